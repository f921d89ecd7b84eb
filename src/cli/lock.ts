import type { CommandGroup } from './command.js';

/** `keel lock`: reboot coordination: an etcd semaphore and a FleetLock server. */
export const lockCommands: CommandGroup = {
  name: 'lock',
  summary: 'reboot coordination: an etcd semaphore and a FleetLock server',
  commands: [],
};
