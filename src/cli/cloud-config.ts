import type { CommandGroup } from './command.js';
import { validateCommand, schemaCommand } from './cloud-config-validate.js';
import { planCommand, applyCommand } from './cloud-config-apply.js';

/** `keel cloud-config`: validate, plan and apply a cloud-config. */
export const cloudConfigCommands: CommandGroup = {
  name: 'cloud-config',
  summary: 'validate, plan and apply a cloud-config',
  commands: [validateCommand, planCommand, applyCommand, schemaCommand],
};
