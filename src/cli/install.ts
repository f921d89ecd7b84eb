import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KeelError } from '../errors.js';
import { readDiskFacts } from '../install/disk-facts.js';
import { install, type InstallReport } from '../install/installer.js';
import { isUrl } from '../install/source.js';
import { journalLineDue, progressBar, progressLine, type ProgressState } from '../install/progress.js';
import { createLogger } from '../log.js';
import { runCommand } from '../host/process.js';
import { printJson, stringOption, type Command } from './command.js';

/** `keel install`: writes a keel disk image to a device, with a cloud-config for first boot. */
export const installCommand: Command = {
  name: 'install',
  summary: 'write a keel disk image to a device, with a cloud-config for first boot',
  usage: '--device DEV|auto --image FILE|URL [--cloud-config FILE|URL]',
  options: {
    device: { type: 'string', description: "the block device or file to write, or 'auto' (see below)", valueName: 'DEV|auto' },
    image: { type: 'string', description: 'the image file or URL (its manifest beside it)', valueName: 'FILE|URL' },
    'cloud-config': { type: 'string', description: 'cloud-config to place for first boot', valueName: 'FILE|URL' },
    manifest: { type: 'string', description: 'the image manifest (default: IMAGE.json beside the image)', valueName: 'FILE|URL' },
  },
  details: `Checks before writing: the manifest (size, SHA-256), the cloud-config, that DEV is a whole
disk or a file, not mounted, not swap, not held by device-mapper, and large enough. A local
image is verified before the disk is touched; a URL is verified as it streams, and the
partition tables are wiped if it does not match. After the write the GPT backup header is
moved to the end of DEV, and the cloud-config is placed as a NoCloud seed (vfat labelled
CIDATA, GPT partition 'cidata') that first boot finds. Old filesystem, RAID and partition
table signatures on DEV and its partitions are erased (wipefs -a) before the image is written.

--device auto chooses the disk (docs/install.md): the one keel.install.device= names on the
kernel command line (a path, a /dev/disk/by-id name, or a kernel name like sda), else the
only disk that is not removable and holds no partitions and no signature; a disk in use
(mounted, swap, device-mapper) or holding the installer's image is never chosen. Otherwise
it refuses and lists every disk: path, size, model, why it was not chosen.`,
  json: true,
  async run(ctx) {
    const device = stringOption(ctx.values, 'device');
    const image = stringOption(ctx.values, 'image');
    if (!device || !image) throw new KeelError('usage', 'install: --device DEV and --image FILE|URL are required');
    const log = createLogger(ctx.stderr);
    const tty = Boolean((ctx.stderr as NodeJS.WriteStream).isTTY) && !process.env.JOURNAL_STREAM;
    let last: ProgressState | undefined;
    let lastPhase = '';
    const report: InstallReport = await install(
      { device, image, cloudConfig: stringOption(ctx.values, 'cloud-config'), manifest: stringOption(ctx.values, 'manifest') },
      {
        log,
        now: () => Date.now(),
        randomBytes: (n) => randomBytes(n),
        readMountinfo: () => readFileSync('/proc/self/mountinfo', 'utf8'),
        readSwaps: () => readFileSync('/proc/swaps', 'utf8'),
        run: runCommand,
        cmdline: () => readFileSync('/proc/cmdline', 'utf8'),
        diskFacts: () =>
          readDiskFacts({
            run: runCommand,
            mountinfo: readFileSync('/proc/self/mountinfo', 'utf8'),
            swaps: readFileSync('/proc/swaps', 'utf8'),
            medium: [...(isUrl(image) ? [] : [{ path: image, what: `the image ${image}` }]), { path: '/', what: 'the running system' }],
          }),
        progress(phase, p) {
          if (phase !== lastPhase) last = undefined;
          lastPhase = phase;
          const done = p.bytes >= p.total;
          if (tty) ctx.stderr.write(`\r${phase.padEnd(6)} ${progressBar(p)}${done ? '\n' : ''}`);
          else if (journalLineDue(p, last) || done) {
            if (last && last.bytes === p.bytes) return;
            log.info(`${phase}: ${progressLine(p)}`);
            last = p;
          }
        },
      },
    );
    if (ctx.json) printJson(ctx, report);
    else
      ctx.stdout.write(
        `installed keel ${report.version} on ${report.device}: ${report.bytes} bytes in ${(report.writeMs / 1000).toFixed(1)} s (total ${(report.totalMs / 1000).toFixed(1)} s)` +
          (report.cloudConfig ? `; cloud-config in partition ${report.cloudConfig.partition} (NoCloud CIDATA)` : '; no cloud-config') +
          '\n',
      );
    return 0;
  },
};
