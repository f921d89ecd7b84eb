import type { CommandGroup } from './command.js';

/** `keel update`: atomic A/B updates: status, check, apply, rollback, publish, install, agent. */
export const updateCommands: CommandGroup = {
  name: 'update',
  summary: 'atomic A/B updates: status, check, apply, rollback, publish, install, agent',
  commands: [],
};
