/**
 * Boots one disk image under TCG, optionally with a NoCloud seed, and reports when the
 * ready marker appeared (ms since qemu started, firmware included), for
 * bench/image.bench.sh. Bundled with esbuild at bench time; prints one JSON line:
 * { readyMs, marks: { name: ms } }.
 * usage: first-boot.mjs NAME BOOT_JSON DISK USER_DATA|- READY_REGEX [MARK=REGEX…]
 *   BOOT_JSON: {"kind":"direct","kernel":…,"initrd":…,"append":…} or {"kind":"uefi"}
 *   USER_DATA: a file, or - for a boot without a seed disk
 */
import { readFileSync } from 'node:fs';
import { withVm, type VmBoot } from '../../test/harness/qemu.js';

const [name, bootJson, disk, userDataFile, ready, ...markArgs] = process.argv.slice(2);
if (!name || !bootJson || !disk || !userDataFile || !ready) {
  process.stderr.write('usage: first-boot.mjs NAME BOOT_JSON DISK USER_DATA|- READY_REGEX [MARK=REGEX…]\n');
  process.exit(2);
}
const boot = JSON.parse(bootJson) as VmBoot;
const marks = markArgs.map((m) => {
  const at = m.indexOf('=');
  return { name: m.slice(0, at), re: new RegExp(m.slice(at + 1)) };
});
// A fresh instance id each boot, so no boot can find the instance applied already.
const instanceId = `bench-${name}-${Date.now().toString(36)}`;

const result = await withVm(
  {
    name: `bench-${name}`,
    boot,
    disks: [{ image: disk }],
    ...(userDataFile === '-' ? {} : { seed: { userData: readFileSync(userDataFile, 'utf8'), instanceId } }),
    net: { ssh: false },
  },
  async (vm) => {
    const readyMatch = await vm.waitFor(new RegExp(ready), { timeoutMs: 900_000 });
    const found: Record<string, number | null> = {};
    for (const m of marks) found[m.name] = vm.serial.find(m.re)?.line.ms ?? null;
    return { readyMs: readyMatch.line.ms, marks: found };
  },
);
process.stdout.write(JSON.stringify(result) + '\n');
