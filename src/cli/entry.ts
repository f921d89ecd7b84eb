import { main } from './main.js';

// The bundle's entry point: exit with main's code once stdout has drained.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keel: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
