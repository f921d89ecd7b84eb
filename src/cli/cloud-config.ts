import type { CommandGroup } from './command.js';

/** `keel cloud-config`: validate, plan and apply a cloud-config. */
export const cloudConfigCommands: CommandGroup = {
  name: 'cloud-config',
  summary: 'validate, plan and apply a cloud-config',
  commands: [],
};
