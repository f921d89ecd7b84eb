/**
 * Boots one disk image under TCG with a NoCloud seed and reports when the ready marker
 * appeared (ms since qemu started), for bench/image.bench.sh. Bundled with esbuild at bench
 * time; prints one JSON line: { readyMs, marks: { name: ms } }.
 * usage: first-boot.mjs NAME KERNEL INITRD APPEND DISK USER_DATA READY_REGEX [MARK=REGEX…]
 */
import { readFileSync } from 'node:fs';
import { withVm } from '../../test/harness/qemu.js';

const [name, kernel, initrd, append, disk, userDataFile, ready, ...markArgs] = process.argv.slice(2);
if (!name || !kernel || !initrd || !append || !disk || !userDataFile || !ready) {
  process.stderr.write('usage: first-boot.mjs NAME KERNEL INITRD APPEND DISK USER_DATA READY_REGEX [MARK=REGEX…]\n');
  process.exit(2);
}
const marks = markArgs.map((m) => {
  const at = m.indexOf('=');
  return { name: m.slice(0, at), re: new RegExp(m.slice(at + 1)) };
});

const result = await withVm(
  {
    name: `bench-${name}`,
    boot: { kind: 'direct', kernel, initrd, append },
    disks: [{ image: disk }],
    seed: { userData: readFileSync(userDataFile, 'utf8'), instanceId: `bench-${name}` },
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
