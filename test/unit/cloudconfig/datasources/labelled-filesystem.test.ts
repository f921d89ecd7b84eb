// The disk datasources' programs (blkid, mount, mcopy, isoinfo) run through the host's
// process edge; here a recording fake stands in for them, so no device, driver or tool is
// needed to check what is asked and how each answer is read.
import { describe, expect, test, vi } from 'vitest';
import { KeelError } from '../../../../src/errors.js';
import type { CommandResult } from '../../../../src/host/process.js';
import type { BytesCommandResult } from '../../../../src/host/process-bytes.js';
import { findDevicesByLabel, userSpaceSeedFiles, withSeedFilesystem, type SeedCommands } from '../../../../src/cloudconfig/datasources/labelled-filesystem.js';

type Answer = Partial<CommandResult>;
type BytesAnswer = Partial<Omit<BytesCommandResult, 'stdout'>> & { stdout?: string };

/** A fake that answers by the joined argv and records every call with its options. */
function fakeCommands(text: Record<string, Answer>, bytes: Record<string, BytesAnswer> = {}) {
  const calls: string[] = [];
  const options: unknown[] = [];
  const commands: SeedCommands = {
    async run(file, args, opts) {
      const key = [file, ...args].join(' ');
      calls.push(key);
      options.push(opts);
      const a = text[key] ?? { exitCode: 2 };
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...a };
    },
    async runBytes(file, args, opts) {
      const key = [file, ...args].join(' ');
      calls.push(key);
      options.push(opts);
      const a = bytes[key] ?? { exitCode: 1, stderr: 'no answer' };
      return { exitCode: 0, stderr: '', timedOut: false, overLimit: false, ...a, stdout: new TextEncoder().encode(a.stdout ?? '') };
    },
  };
  return { commands, calls, options };
}

const decode = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

const probeKey = 'blkid -c /dev/null -o export';
const probeOutput = [
  'DEVNAME=/dev/vda4\nLABEL=keel-state\nTYPE=ext4',
  'DEVNAME=/dev/vdb\nLABEL=keel-test-a\nTYPE=vfat',
  'DEVNAME=/dev/vdc\nLABEL=keel-test-b\nUUID=1234-5678\nTYPE=iso9660',
  'DEVNAME=/dev/vdd\nLABEL=keel\\ test\nTYPE=vfat',
].join('\n\n') + '\n';

describe('findDevicesByLabel', () => {
  test('one blkid probe answers every label, in label order, each device once', async () => {
    const { commands, calls } = fakeCommands({ [probeKey]: { stdout: probeOutput } });
    expect(await findDevicesByLabel(['keel-test-b', 'keel-test-a', 'keel-test-b'], commands)).toEqual(['/dev/vdc', '/dev/vdb']);
    expect(calls).toEqual([probeKey]);
    expect(await findDevicesByLabel(['keel test'], commands)).toEqual(['/dev/vdd']);
  });

  test('callers asking while a probe runs share it; one that ended is not reused (a device may have changed under its name)', async () => {
    const { commands, calls } = fakeCommands({ [probeKey]: { stdout: probeOutput } }, {});
    const [a, b] = await Promise.all([findDevicesByLabel(['keel-test-a'], commands), findDevicesByLabel(['keel-test-b'], commands)]);
    expect([a, b]).toEqual([['/dev/vdb'], ['/dev/vdc']]);
    expect(calls).toEqual([probeKey]);
    await findDevicesByLabel(['keel-test-a'], commands);
    expect(calls).toEqual([probeKey, probeKey]);
  });

  test("blkid's exit 2 is no filesystem at all, not an error", async () => {
    expect(await findDevicesByLabel(['keel-test-none'], fakeCommands({}).commands)).toEqual([]);
  });

  test('any other blkid failure is an io error saying what blkid said, and the next call asks again', async () => {
    const { commands, calls } = fakeCommands({ [probeKey]: { exitCode: 4, stderr: 'permission denied\n' } });
    const error = await findDevicesByLabel(['keel-test-x'], commands).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ kind: 'io', message: "blkid could not list the filesystems' labels: permission denied" });
    await findDevicesByLabel(['keel-test-x'], commands).catch(() => undefined);
    expect(calls).toEqual([probeKey, probeKey]);
  });
});

describe('withSeedFilesystem', () => {
  test.each([
    ['ext4', "/dev/vdb: filesystem 'ext4', expected vfat or iso9660; skipping this seed"],
    ['', "/dev/vdb: filesystem 'unknown', expected vfat or iso9660; skipping this seed"],
  ])('a %j filesystem is refused before anything is mounted', async (type, message) => {
    const { commands, calls } = fakeCommands({ 'blkid -c /dev/null -o value -s TYPE /dev/vdb': { stdout: `${type}\n` } });
    const error = await withSeedFilesystem('/dev/vdb', 1000, async () => 'read', commands).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'invalid-input', message });
    expect(calls).toEqual(['blkid -c /dev/null -o value -s TYPE /dev/vdb']);
  });
});

describe('seed files read in user space', () => {
  test('vfat through mcopy: bytes as they are, a missing file is undefined, the limit is passed on', async () => {
    const { commands, options } = fakeCommands({}, {
      'mcopy -n -i /dev/vdb ::user-data -': { stdout: '#cloud-config\n' },
      'mcopy -n -i /dev/vdb ::meta-data -': { exitCode: 1, stderr: 'File "::meta-data" not found\n' },
    });
    const files = await userSpaceSeedFiles('vfat', '/dev/vdb', 1000, commands);
    expect(decode(await files.read('user-data'))).toBe('#cloud-config\n');
    expect(await files.read('meta-data')).toBeUndefined();
    expect(options[0]).toEqual({ maxOutputBytes: 1000, env: { MTOOLS_SKIP_CHECK: '1' } });
  });

  test('an mcopy failure other than a missing file is an io error', async () => {
    const { commands } = fakeCommands({}, { 'mcopy -n -i /dev/vdb ::user-data -': { exitCode: 1, stderr: 'init: non DOS media\n' } });
    const files = await userSpaceSeedFiles('vfat', '/dev/vdb', 1000, commands);
    await expect(files.read('user-data')).rejects.toMatchObject({ kind: 'io', message: '/dev/vdb: mcopy could not read user-data: init: non DOS media' });
  });

  test.each([
    ['vfat', 'mcopy -n -i /dev/vdb ::user-data -'],
    ['iso9660', 'isoinfo -i /dev/vdb -R -x /user-data'],
  ] as const)('a %s file over the limit is refused, not cut short', async (type, key) => {
    const { commands } = fakeCommands({ 'isoinfo -i /dev/vdb -R -f': { stdout: '/user-data\n' } }, { [key]: { exitCode: -1, overLimit: true, stdout: 'x'.repeat(10) } });
    const files = await userSpaceSeedFiles(type, '/dev/vdb', 10, commands);
    await expect(files.read('user-data')).rejects.toMatchObject({ kind: 'invalid-input', message: '/dev/vdb:user-data: more than the 10 bytes allowed; refusing it' });
  });

  test('iso9660 through isoinfo: Joliet names when Rock Ridge lists none; files not listed are undefined', async () => {
    const { commands, calls } = fakeCommands(
      { 'isoinfo -i /dev/sr0 -R -f': { stdout: '' }, 'isoinfo -i /dev/sr0 -J -f': { stdout: '/user-data\n/meta-data\n' } },
      { 'isoinfo -i /dev/sr0 -J -x /meta-data': { stdout: 'instance-id: iid-1\n' } },
    );
    const files = await userSpaceSeedFiles('iso9660', '/dev/sr0', 1000, commands);
    expect(decode(await files.read('meta-data'))).toBe('instance-id: iid-1\n');
    expect(await files.read('network-config')).toBeUndefined();
    expect(calls).toEqual(['isoinfo -i /dev/sr0 -R -f', 'isoinfo -i /dev/sr0 -J -f', 'isoinfo -i /dev/sr0 -J -x /meta-data']);
  });

  test('an isoinfo extraction that fails is an io error, not an empty file', async () => {
    const { commands } = fakeCommands({ 'isoinfo -i /dev/sr0 -R -f': { stdout: '/user-data\n' } }, { 'isoinfo -i /dev/sr0 -R -x /user-data': { exitCode: 5, stderr: 'read error\n' } });
    const files = await userSpaceSeedFiles('iso9660', '/dev/sr0', 1000, commands);
    await expect(files.read('user-data')).rejects.toMatchObject({ kind: 'io', message: '/dev/sr0: isoinfo could not read user-data: read error' });
  });
});
