// The host initramfs' driver loading by modalias (images/initramfs/hw-table.sh builds the table,
// images/initramfs/modalias.sh loads from it), run for real under busybox sh (or sh) against
// a fake /sys: a fake insmod records each module and, as a real driver would, makes the
// devices its hardware has (virtio_pci a virtio disk, an HBA a SCSI disk that wants sd_mod).
// A scan goes bus by bus in glob order (scsi before virtio).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';

const images = join(import.meta.dirname, '../../../images/initramfs');
const shell = existsSync('/bin/busybox') ? ['/bin/busybox', 'sh'] : ['sh'];
let root: string;

const aliases = `alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000002v* virtio_blk
alias pci:v00001000d00000097sv*sd*bc*sc*i* hba
alias pci:v*d*sv*sd*bc01sc06i01* ahci
alias scsi:t-0x00* sd_mod
alias block-major-8-* sd_mod
alias symbol:scsi_add_host scsi_mod
alias fs-ext4 ext4
`;
// NAME then its module files, dependencies first, as build.sh feeds hw-table.sh.
const deps = `virtio_pci kernel/virtio.ko kernel/virtio_pci.ko
virtio_blk kernel/virtio.ko kernel/virtio_blk.ko
scsi_mod kernel/scsi_mod.ko
hba kernel/scsi_mod.ko kernel/hba.ko
ahci kernel/scsi_mod.ko kernel/libata.ko kernel/ahci.ko
sd_mod kernel/scsi_mod.ko kernel/sd_mod.ko
`;

function device(path: string, modalias: string): void {
  mkdirSync(join(root, 'sys/bus', path), { recursive: true });
  writeFileSync(join(root, 'sys/bus', path, 'modalias'), `${modalias}\n`);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'keel-modalias-'));
  mkdirSync(join(root, 'modules'));
  writeFileSync(join(root, 'aliases'), aliases);
  const table = spawnSync(join(images, 'hw-table.sh'), [join(root, 'aliases')], { input: deps, encoding: 'utf8' });
  expect(table.stderr).toBe('');
  writeFileSync(join(root, 'modules/hw-table.sh'), table.stdout);
  writeFileSync(
    join(root, 'insmod'),
    `#!/bin/sh
ko=\${1##*/}
echo "$ko" >>"$KEEL_RUN/insmod.log"
case "$ko" in
  virtio_pci.ko) mkdir -p "$KEEL_SYS/bus/virtio/devices/virtio0" && echo virtio:d00000002v00001AF4 >"$KEEL_SYS/bus/virtio/devices/virtio0/modalias" ;;
  hba.ko) mkdir -p "$KEEL_SYS/bus/scsi/devices/0:0:0:0" && echo scsi:t-0x00 >"$KEEL_SYS/bus/scsi/devices/0:0:0:0/modalias" ;;
  ahci.ko) echo "insmod: can't insert '$ko': No such device" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(join(root, 'insmod'), 0o755);
  device('acpi/devices/PNP0A03:00', 'acpi:PNP0A03:');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Sources modalias.sh as /init does, runs SCRIPT, returns its output and the insmod order. */
function run(script: string): { out: string; insmods: string[] } {
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', `say() { echo "say: $*"; }\n. "${join(images, 'modalias.sh')}"\n${script}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, KEEL_SYS: join(root, 'sys'), KEEL_MODULES: join(root, 'modules'), KEEL_INSMOD: join(root, 'insmod'), KEEL_RUN: root },
  });
  expect(r.stderr).toBe('');
  const log = join(root, 'insmod.log');
  return { out: r.stdout, insmods: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] };
}

test('the table has device aliases only, quoted as case globs, grouped by bus', () => {
  const table = readFileSync(join(root, 'modules/hw-table.sh'), 'utf8');
  expect(table).not.toMatch(/block-major|symbol:|fs-ext4/);
  expect(table).toContain(`hwdep_sd_mod='kernel/scsi_mod.ko kernel/sd_mod.ko'`);
  expect(table).not.toContain('hwdep_scsi_mod');
  expect(table).toMatch(/ {2}scsi:\*\)\n {4}case "\$1" in scsi:t-0x00\*\) hw="\$hw sd_mod" ;; esac/);
});

test('devices that appear as drivers load get their drivers too, each module once, dependencies first', () => {
  device('pci/devices/0000:00:01.0', 'pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00');
  device('pci/devices/0000:00:02.0', 'pci:v00001000d00000097sv00001000sd00003090bc01sc07i00');
  device('pci/devices/0000:00:03.0', 'pci:v00008086d00001234sv00000000sd00000000bc02sc00i00');
  const { out, insmods } = run('hw_load; echo "drivers: $drivers"');
  expect(insmods).toEqual(['virtio.ko', 'virtio_pci.ko', 'scsi_mod.ko', 'hba.ko', 'sd_mod.ko', 'virtio_blk.ko']);
  expect(out).toContain('drivers: virtio_pci hba sd_mod virtio_blk\n');
});

test('no matching hardware loads nothing', () => {
  const { out, insmods } = run('hw_load; echo "drivers: $drivers new: $new"');
  expect(insmods).toEqual([]);
  expect(out).toBe('drivers:  new: \n');
});

test('a driver that fails says why; the quiet full list does not', () => {
  device('pci/devices/0000:00:1f.2', 'pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01');
  const { out } = run('hw_load; load_ko 1 kernel/ahci.ko kernel/other.ko');
  expect(out).toContain("say: warning: insmod kernel/ahci.ko failed: insmod: can't insert 'ahci.ko': No such device\n");
  expect(out.match(/warning/g)).toHaveLength(1);
});

test('a later scan finds only the devices that appeared since', () => {
  const { out, insmods } = run(
    `hw_scan; echo "first: $new"; mkdir -p "$KEEL_SYS/bus/scsi/devices/1:0:0:0"; echo scsi:t-0x00 >"$KEEL_SYS/bus/scsi/devices/1:0:0:0/modalias"; hw_scan; echo "second: $new $drivers"; hw_scan; echo "third: $new"`,
  );
  expect(out).toBe('first: \nsecond: 1 sd_mod\nthird: \n');
  expect(insmods).toEqual(['scsi_mod.ko', 'sd_mod.ko']);
});
