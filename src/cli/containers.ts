import type { CommandGroup } from './command.js';

/** `keel containers`: containers run as systemd units: list, status, logs, restart, apply, render, supervise. */
export const containersCommands: CommandGroup = {
  name: 'containers',
  summary: 'containers run as systemd units: list, status, logs, restart, apply, render, supervise',
  commands: [],
};
