import { KeelError } from '../errors.js';
import { runCommand, type RunCommand } from '../host/process.js';

/**
 * The agent's edge to the reboot itself. A real host asks systemd (`systemctl reboot`, through
 * the process edge); unit tests pass a recording fake, and the spawned-binary test a command
 * that stands in for the reboot. It returns once the reboot is asked for: systemd stops the
 * agent afterwards.
 */
export type Rebooter = () => Promise<void>;

/** Runs `argv` as the reboot; a non-zero exit is a failed reboot the agent retries later. */
export function commandRebooter(argv: readonly string[], run: RunCommand = runCommand): Rebooter {
  const [file, ...args] = argv;
  if (!file) throw new KeelError('invalid-input', 'the reboot command is empty; expected a program and its arguments');
  return async () => {
    const r = await run(file, args);
    if (r.exitCode !== 0)
      throw new KeelError('io', `${argv.join(' ')} ${r.signal ? `ended by ${r.signal}` : `exited ${r.exitCode}`}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}; still running the old release`);
  };
}

/** A real host's reboot. */
export function systemctlReboot(run: RunCommand = runCommand): Rebooter {
  return commandRebooter(['systemctl', 'reboot'], run);
}
