import { KeelError } from '../errors.js';
import type { Command } from './command.js';

/** `keel install`: writes a keel image to a disk and places a cloud-config for first boot. */
export const installCommand: Command = {
  name: 'install',
  summary: 'write a keel disk image to a device, with a cloud-config for first boot',
  usage: '--device DEV --image FILE|URL [--cloud-config FILE|URL]',
  options: {
    device: { type: 'string', description: 'the block device or file to write', valueName: 'DEV' },
    image: { type: 'string', description: 'the image file or URL (its manifest beside it)', valueName: 'FILE|URL' },
    'cloud-config': { type: 'string', description: 'cloud-config to place for first boot', valueName: 'FILE|URL' },
  },
  json: true,
  async run() {
    throw new KeelError('internal', 'install: not implemented yet');
  },
};
