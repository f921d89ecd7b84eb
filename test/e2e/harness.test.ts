// The qemu harness tested on itself: a real TCG boot of keel's kernel with a busybox initramfs.
import { execaSync } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repoRoot, startVm, withVm, type Vm } from '../harness/qemu.js';
import { makeTinyInitramfs } from '../harness/tiny-initramfs.js';

const kernel = process.env.KEEL_HARNESS_KERNEL ?? join(repoRoot, 'build/vmlinuz');
let dir: string;
let initrd: string;

beforeAll(async () => {
  if (!existsSync(kernel)) throw new Error(`${kernel} is missing: run make image (or set KEEL_HARNESS_KERNEL)`);
  dir = mkdtempSync(join(tmpdir(), 'keel-harness-'));
  initrd = await makeTinyInitramfs(
    join(dir, 'tiny.cpio.gz'),
    `echo "TINY-UP $(cat /proc/cmdline)"
printf 'prompt> '
sleep 1
echo
case "$(cat /proc/cmdline)" in
  *then=reboot*) echo rebooting; reboot -f ;;
  *then=hang*) echo hanging; sleep 1000 ;;
  *) echo powering-off; poweroff -f ;;
esac
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const boot = (then: string) => ({ kind: 'direct' as const, kernel, initrd, append: `console=ttyS0 quiet panic=-1 then=${then}` });

function qemuAlive(pid: number | undefined): boolean {
  return pid !== undefined && execaSync('ps', ['-o', 'pid=', '-p', String(pid)], { reject: false }).stdout.trim() !== '';
}

test('markers in order, with timestamps; a prompt without newline; power off ends qemu', async () => {
  await withVm({ name: 'harness-markers', boot: boot('poweroff'), net: false }, async (vm) => {
    const up = await vm.waitFor(/TINY-UP (.*then=\w+)/, { timeoutMs: 120_000 });
    expect(up.match[1]).toContain('console=ttyS0');
    expect(up.line.ms).toBeGreaterThan(0);
    const prompt = await vm.waitFor(/prompt> $/, { timeoutMs: 30_000 });
    expect(prompt.line.ms).toBeGreaterThanOrEqual(up.line.ms);
    await vm.waitFor(/powering-off/, { timeoutMs: 30_000 });
    expect((await vm.waitExit({ timeoutMs: 60_000 })).code).toBe(0);
    expect(vm.running).toBe(false);
  });
  expect(existsSync(join(repoRoot, 'build/test-logs/harness-markers'))).toBe(false);
});

test('a guest reboot is seen as a second boot on the same console; reset does the same', async () => {
  await withVm({ name: 'harness-reboot', boot: boot('reboot'), net: false }, async (vm) => {
    await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
    await vm.waitFor(/rebooting/, { timeoutMs: 30_000 });
    const second = await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
    expect(second.line.run).toBe(1);
    await vm.reset();
    await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
  });
});

test('onReboot restart: a guest reboot and a reset each start qemu again, and waits carry on across them', async () => {
  await withVm({ name: 'harness-cold', boot: boot('reboot'), onReboot: 'restart', disks: [{ blankMiB: 64 }], net: { ssh: true } }, async (vm) => {
    const port = vm.sshPort;
    const first = await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
    const pid = vm.pid;
    const disk = vm.diskFile(0);
    // Waiting across the reboot: the marker comes from the next qemu run.
    const second = await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
    expect([first.line.run, second.line.run]).toEqual([1, 2]);
    expect(vm.pid).not.toBe(pid);
    expect(qemuAlive(pid)).toBe(false);
    expect(vm.diskFile(0)).toBe(disk);
    expect(vm.sshPort).toBe(port);
    // A guest that stays up, then the reset button: also a cold start.
    await vm.restart({ boot: boot('hang') });
    await vm.waitFor(/hanging/, { timeoutMs: 120_000 });
    await vm.reset();
    const afterReset = await vm.waitFor(/TINY-UP/, { timeoutMs: 120_000 });
    expect(afterReset.line.run).toBeGreaterThan(second.line.run + 1);
    expect(vm.running).toBe(true);
  });
});

test('onReboot stop ends qemu on reboot; restart boots again on the same disks with a new command line', async () => {
  await withVm({ name: 'harness-restart', boot: boot('reboot'), onReboot: 'stop', disks: [{ blankMiB: 64 }], net: false }, async (vm) => {
    await vm.waitFor(/rebooting/, { timeoutMs: 120_000 });
    await vm.waitExit({ timeoutMs: 60_000 });
    const disk = vm.diskFile(0);
    await vm.restart({ boot: boot('poweroff') });
    expect(vm.diskFile(0)).toBe(disk);
    const up = await vm.waitFor(/TINY-UP.*then=(\w+)/, { timeoutMs: 120_000 });
    expect(up.match[1]).toBe('poweroff');
    expect(up.line.run).toBe(2);
    await vm.waitExit({ timeoutMs: 60_000 });
  });
});

test('a marker that never comes fails with the last console lines, keeps the logs, and the VM is killed', async () => {
  let vm: Vm | undefined;
  let pid: number | undefined;
  const error = await withVm({ name: 'harness-timeout', boot: boot('hang'), net: false }, async (v) => {
    vm = v;
    pid = v.pid;
    await v.waitFor(/hanging/, { timeoutMs: 120_000 });
    await v.waitFor(/never printed/, { timeoutMs: 2_000 });
  }).catch((e: Error) => e);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(/\/never printed\/ did not appear within 2000 ms/);
  expect((error as Error).message).toMatch(/\[\s*\d+\.\d{3}\] hanging/);
  expect(vm!.running).toBe(false);
  expect(qemuAlive(pid)).toBe(false);
  const log = readFileSync(join(repoRoot, 'build/test-logs/harness-timeout/serial.log'), 'utf8');
  expect(log).toMatch(/\[\s*\d+\.\d{3}\] TINY-UP/);
  expect(existsSync(join(repoRoot, 'build/test-logs/harness-timeout/qemu.cmdline'))).toBe(true);
  rmSync(join(repoRoot, 'build/test-logs/harness-timeout'), { recursive: true, force: true });
});

test('two VMs run at once, each with its own forwarded port', async () => {
  const a = await startVm({ name: 'harness-two-a', boot: boot('hang'), net: { ssh: true } });
  const b = await startVm({ name: 'harness-two-b', boot: boot('hang'), net: { ssh: true } });
  try {
    expect(a.sshPort).not.toBe(b.sshPort);
    await Promise.all([a.waitFor(/hanging/, { timeoutMs: 180_000 }), b.waitFor(/hanging/, { timeoutMs: 180_000 })]);
  } finally {
    await a.close();
    await b.close();
  }
  expect(a.running || b.running).toBe(false);
});
