import type { Command, CommandGroup, LazyCommand } from './command.js';
import { validateCommand, schemaCommand } from './cloud-config-validate.js';

/**
 * `keel cloud-config`: validate, plan and apply a cloud-config. plan and apply load their
 * module (the apply stack: D-Bus, processes, datasources) only when one of them runs, so
 * `validate`, which CI and editors call often, starts with the schema and YAML alone.
 */
export const cloudConfigCommands: CommandGroup<Command | LazyCommand> = {
  name: 'cloud-config',
  summary: 'validate, plan and apply a cloud-config',
  commands: [
    validateCommand,
    { name: 'plan', summary: 'print the operations a cloud-config becomes, in order, without doing anything', load: async () => (await import('./cloud-config-apply.js')).planCommand },
    { name: 'apply', summary: 'apply a cloud-config under a root (or to this live host), once per instance', load: async () => (await import('./cloud-config-apply.js')).applyCommand },
    schemaCommand,
  ],
};
