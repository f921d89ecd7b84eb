import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEntryName, parseEntryText, slotOfEntry, entryHealth } from '../../../src/update/boot-entry.js';
import { compareVersions } from '../../../src/update/version-order.js';

/**
 * A host as a directory tree for agent tests, and a stand-in for one boot of it: systemd-boot's
 * choice among loader/entries (loader.conf `default`, else the newest entry with tries left,
 * bad entries last; the counter of a counted entry is decremented before the boot), then the
 * booted slot's version appears at /usr/lib/keel/version and keel.slot= on /proc/cmdline,
 * and /run starts empty but for what the initramfs writes there: /run/keel/boot.env with SLOT=
 * and VERITY= (the entry's keel.verity= value). The e2e test does the same with the real
 * systemd-boot and initramfs in qemu.
 */
export async function bootOnce(root: string, versionOfSlot: (slot: 'a' | 'b', entryVersion: string) => string = (_s, v) => v): Promise<{ slot: 'a' | 'b'; version: string; entry: string }> {
  const dir = join(root, 'boot/loader/entries');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.conf'));
  const loader = await readFile(join(root, 'boot/loader/loader.conf'), 'utf8').catch(() => '');
  const wanted = /^default\s+(\S+)$/m.exec(loader)?.[1];
  const entries = await Promise.all(
    names.map(async (n) => {
      const name = parseEntryName(n)!;
      const fields = parseEntryText(await readFile(join(dir, n), 'utf8'));
      return { file: n, name, fields, health: entryHealth(name) };
    }),
  );
  entries.sort((x, y) => (x.health === 'bad' ? 1 : 0) - (y.health === 'bad' ? 1 : 0) || compareVersions(y.fields.version ?? '', x.fields.version ?? ''));
  const chosen = (wanted && entries.find((e) => `${e.name.id}.conf` === wanted)) || entries[0];
  if (!chosen) throw new Error(`no boot entry under ${dir}`);
  if (chosen.name.triesLeft !== undefined && chosen.name.triesLeft > 0) {
    const next = `${chosen.name.id}+${chosen.name.triesLeft - 1}-${(chosen.name.triesDone ?? 0) + 1}.conf`;
    await rename(join(dir, chosen.file), join(dir, next));
  }
  const slot = slotOfEntry(chosen.fields)!;
  const version = versionOfSlot(slot, chosen.fields.version!);
  await mkdir(join(root, 'proc'), { recursive: true });
  await writeFile(join(root, 'proc/cmdline'), `${chosen.fields.options}\n`);
  await mkdir(join(root, 'usr/lib/keel'), { recursive: true });
  await writeFile(join(root, 'usr/lib/keel/version'), `${version}\n`);
  await rm(join(root, 'run'), { recursive: true, force: true });
  await mkdir(join(root, 'run/keel'), { recursive: true });
  const verity = /(?:^|\s)keel\.verity=(\S+)/.exec(chosen.fields.options ?? '')?.[1] ?? '';
  await writeFile(join(root, 'run/keel/boot.env'), `SLOT=${slot}\nVERITY=${verity}\n`);
  return { slot, version, entry: chosen.file };
}

/** The initial tree `make image` produces: slot a with `version`, its entry, loader.conf. */
export async function makeHostTree(root: string, version: string, files: Record<string, string>): Promise<void> {
  await mkdir(join(root, 'boot/loader/entries'), { recursive: true });
  await mkdir(join(root, 'boot/keel/a'), { recursive: true });
  await writeFile(join(root, 'boot/loader/loader.conf'), 'timeout 0\neditor no\n');
  await writeFile(
    join(root, 'boot/loader/entries', `keel-${version}.conf`),
    `title keel ${version} (slot a)\nversion ${version}\nsort-key keel\nlinux /keel/a/vmlinuz\ninitrd /keel/a/initramfs.img\noptions console=ttyS0,115200 ro keel.slot=a\n`,
  );
  await writeFile(join(root, 'boot/keel/a/vmlinuz'), 'kernel\n');
  await writeFile(join(root, 'boot/keel/a/initramfs.img'), 'initramfs\n');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}
