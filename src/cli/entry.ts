import { main } from './main.js';

/**
 * How long keel may linger once the command is done. Normally the event loop is empty and
 * node exits at once; a handle left open by mistake (a socket, a timer) must not turn a
 * finished command into one that never exits, e.g. in keel-cloudinit.service at boot.
 */
const lingerMs = 2000;

function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => {
    if (process.env.KEEL_DEBUG) process.stderr.write(`keel: still running ${lingerMs} ms after the command finished; exiting\n`);
    process.exit(code);
  }, lingerMs).unref();
}

// The bundle's entry point: exit with main's code once stdout has drained.
main(process.argv.slice(2)).then(finish, (error: unknown) => {
  process.stderr.write(`keel: internal error: ${String(error)}\n`);
  finish(1);
});
