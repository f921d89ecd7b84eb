import { describe, expect, test } from 'vitest';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeelError } from '../../../src/errors.js';
import type { CommandResult, RunCommand } from '../../../src/host/process.js';
import { readBundle } from '../../../src/update/release-bundle.js';
import { checkForRelease } from '../../../src/update/release-installer.js';
import { stageRelease } from '../../../src/update/stage-release.js';
import { checkSlotVerity } from '../../../src/update/slot-verity.js';
import { readRecords } from '../../../src/update/progress-record.js';
import { updateConfigOf } from '../../../src/update/update-config.js';
import { formatStatus, updateStatus } from '../../../src/update/update-status.js';
import { bootVerityOfEnv } from '../../../src/update/host-facts.js';
import type { VerityFacts } from '../../../src/update/verity-facts.js';
import { makeBundle, makeKey, publish, tempDir } from './fixture.js';

// The update side of dm-verity: the setting that allows releases without it, the manifest
// read when publishing, the refusal and the entry written when staging, the check's messages
// (with a fake veritysetup), and what `keel update status` shows. The real veritysetup runs
// in the fixture and in the staging tests; test/integration/update/verity-install.test.ts
// flips bytes on files and loop devices.
const key = makeKey();
const hash = (c: string) => c.repeat(64);
const facts: VerityFacts = { hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataSize: 8192, hashOffset: 8192, salt: 'ab', rootHash: hash('1') };

describe('ALLOW_RELEASES_WITHOUT_VERITY', () => {
  test('is off unless set to an explicit yes', () => {
    expect(updateConfigOf({}).allowWithoutVerity).toBe(false);
    expect(updateConfigOf({ ALLOW_RELEASES_WITHOUT_VERITY: 'false' }).allowWithoutVerity).toBe(false);
    expect(updateConfigOf({ ALLOW_RELEASES_WITHOUT_VERITY: 'true' }).allowWithoutVerity).toBe(true);
    expect(updateConfigOf({ ALLOW_RELEASES_WITHOUT_VERITY: 'yes' }).allowWithoutVerity).toBe(true);
  });

  test('anything else is a problem naming the file, not a guess', () => {
    expect(() => updateConfigOf({ ALLOW_RELEASES_WITHOUT_VERITY: 'sometimes' }, { ALLOW_RELEASES_WITHOUT_VERITY: '/etc/keel/update.conf' })).toThrow(
      "/etc/keel/update.conf: ALLOW_RELEASES_WITHOUT_VERITY: expected true or false, found 'sometimes'; the agent keeps its previous settings",
    );
  });
});

describe('the release manifest', () => {
  test('its verity object is read and checked against the slot file', async () => {
    const work = await tempDir();
    const made = await makeBundle(work, '1.0.0', 100_000);
    expect(made.verity?.rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await readBundle(made.dir)).verity).toEqual(made.verity);
  });

  test('a malformed one is refused before anything is published', async () => {
    const work = await tempDir();
    const made = await makeBundle(work, '1.0.0', 100_000);
    const path = join(made.dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...manifest, verity: { ...manifest.verity, hashOffset: 1 << 20 } }));
    await expect(readBundle(made.dir)).rejects.toThrow(`${path}: verity: the hash area ends at byte ${(1 << 20) + 8192} (hashOffset 1048576 + 8192), past the 100000-byte slot; nothing published`);
    await writeFile(path, JSON.stringify({ ...manifest, verity: 'yes' }));
    await expect(readBundle(made.dir)).rejects.toThrow(/manifest\.json: verity: expected a verity object .*, found the string "yes"; nothing published$/);
  });
});

/** A repository with one release (verity or not), an ESP holding slot a's entry, and a node's state. */
async function staging(verity: boolean) {
  const work = await tempDir();
  await publish(join(work, 'repo'), work, key.signer, '2.0.0', { size: 100_000, verity });
  const esp = join(work, 'boot');
  await mkdir(join(esp, 'loader/entries'), { recursive: true });
  const slotA = `title keel 1.0.0 (slot a)\nversion 1.0.0\nsort-key keel\nlinux /keel/a/vmlinuz\ninitrd /keel/a/initramfs.img\noptions ro keel.slot=a keel.verity=${hash('a')} keel.verity.hashoffset=4096\n`;
  await writeFile(join(esp, 'loader/entries/keel-1.0.0.conf'), slotA);
  const stateDir = join(work, 'state');
  const choice = await checkForRelease({ repo: join(work, 'repo'), trustPem: key.publicPem, stateDir, channel: 'stable', nowMs: Date.now() });
  if (choice.kind !== 'install') throw new Error(`no release chosen: ${JSON.stringify(choice)}`);
  const boot = { esp, slot: 'b' as const, options: `ro keel.slot=a keel.verity=${hash('a')} keel.verity.hashoffset=4096`, tries: 3 };
  const request = { repo: join(work, 'repo'), target: join(work, 'slot-b.img'), stateDir, nowMs: Date.now(), boot };
  return { work, esp, slotA, release: choice.release, request };
}

describe('staging a release', () => {
  test("the new entry carries the release's root hash and offset in place of the old slot's", async () => {
    const s = await staging(true);
    const verity = s.release.verity!;
    expect(verity.rootHash).toMatch(/^[0-9a-f]{64}$/);
    await stageRelease(s.request, s.release);
    const entry = await readFile(join(s.esp, 'loader/entries/keel-2.0.0+3.conf'), 'utf8');
    expect(entry).toContain(`options ro keel.slot=b keel.verity=${verity.rootHash} keel.verity.hashoffset=${verity.hashOffset}\n`);
    expect(await readFile(join(s.esp, 'loader/entries/keel-1.0.0.conf'), 'utf8')).toBe(s.slotA);
  });

  test('a release without verity is refused before the slot, an entry or a record is touched', async () => {
    const s = await staging(false);
    await writeFile(join(s.esp, 'loader/entries/keel-0.9.0.conf'), 'options ro keel.slot=b\n');
    const error = await stageRelease(s.request, s.release).catch((e: unknown) => e);
    expect((error as KeelError).kind).toBe('verification');
    expect((error as Error).message).toBe(
      'release 2.0.0: its signed metadata has no dm-verity root hash, expected one on the slot target; refusing it, nothing installed (ALLOW_RELEASES_WITHOUT_VERITY=true in update.conf (keel update install: --allow-without-verity) accepts such releases)',
    );
    expect((await readdir(join(s.esp, 'loader/entries'))).sort()).toEqual(['keel-0.9.0.conf', 'keel-1.0.0.conf']);
    await expect(stat(s.request.target)).rejects.toThrow(/ENOENT/);
  });

  test('allowed, it is installed and its entry boots with keel.verity=off', async () => {
    const s = await staging(false);
    await stageRelease({ ...s.request, allowWithoutVerity: true }, s.release);
    const entry = await readFile(join(s.esp, 'loader/entries/keel-2.0.0+3.conf'), 'utf8');
    expect(entry).toContain('options ro keel.slot=b keel.verity=off\n');
  });

  test('a malformed signed verity object is refused even when unverified releases are allowed', async () => {
    const s = await staging(true);
    const release = { ...s.release, verity: undefined, verityProblem: 'verity.salt: expected lowercase hex of at most 256 bytes, found number 1' };
    await expect(stageRelease({ ...s.request, allowWithoutVerity: true }, release)).rejects.toThrow(
      'release 2.0.0: signed verity.salt: expected lowercase hex of at most 256 bytes, found number 1; refusing it, nothing installed',
    );
    await expect(stat(s.request.target)).rejects.toThrow(/ENOENT/);
  });

  test('a failed veritysetup verify leaves no entry for the slot, no target and no pending record', async () => {
    const s = await staging(true);
    const calls: string[][] = [];
    const run = fakeVeritysetup(calls, { verify: { exitCode: 1, stderr: 'Verification of data area failed.\n' } }, s.release.verity!);
    const error = await stageRelease({ ...s.request, run }, s.release).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `${s.request.target}.keel-partial: veritysetup verify found the written slot does not match the signed root hash ${s.release.verity!.rootHash} (Verification of data area failed.): its data or hash tree is tampered or damaged; discarded what was written, nothing installed`,
    );
    // One form tried once: the same signed bytes would fail the same check again.
    expect(calls.map((c) => c[0])).toEqual(['dump', 'verify']);
    expect(await readdir(join(s.esp, 'loader/entries'))).toEqual(['keel-1.0.0.conf']);
    await expect(stat(s.request.target)).rejects.toThrow(/ENOENT/);
    expect(await readRecords(s.request.stateDir)).toEqual([]);
  });
});

/** A veritysetup that answers `dump` with a superblock matching `f` and each verb as `answers` says. */
function fakeVeritysetup(calls: string[][], answers: Partial<Record<'dump' | 'verify', Partial<CommandResult>>>, f: VerityFacts): RunCommand {
  const dump = `Data blocks:     \t${f.dataSize / 4096}\nData block size: \t4096\nHash block size: \t4096\nHash algorithm:  \tsha256\nSalt:            \t${f.salt || '-'}\n`;
  return async (file, args) => {
    expect(file).toBe('veritysetup');
    calls.push([...args]);
    const verb = args[0] as 'dump' | 'verify';
    return { exitCode: 0, stdout: verb === 'dump' ? dump : '', stderr: '', timedOut: false, ...answers[verb] };
  };
}

describe('the check of a written slot', () => {
  test('runs dump, then verify with the signed root hash and offset, data and hash on the same path', async () => {
    const calls: string[][] = [];
    await checkSlotVerity('/dev/vdb3', facts, fakeVeritysetup(calls, {}, facts));
    expect(calls).toEqual([
      ['dump', '/dev/vdb3', '--hash-offset=8192'],
      ['verify', '/dev/vdb3', '/dev/vdb3', hash('1'), '--hash-offset=8192'],
    ]);
  });

  test('no superblock at the offset is named as such', async () => {
    const run = fakeVeritysetup([], { dump: { exitCode: 1, stdout: '', stderr: 'Device /dev/vdb3 is not a valid VERITY device.\n' } }, facts);
    await expect(checkSlotVerity('/dev/vdb3', facts, run)).rejects.toThrow(
      '/dev/vdb3: no dm-verity superblock at byte 8192, where the signed release has one (Device /dev/vdb3 is not a valid VERITY device.); the slot is damaged or not this release',
    );
  });

  test('a superblock that maps fewer blocks than signed is refused before verify runs', async () => {
    const calls: string[][] = [];
    await expect(checkSlotVerity('/dev/vdb3', facts, fakeVeritysetup(calls, {}, { ...facts, dataSize: 4096 }))).rejects.toThrow(
      '/dev/vdb3: the dm-verity superblock disagrees with the signed release: data blocks 1 in the superblock, 2 signed (tampered or damaged)',
    );
    expect(calls.map((c) => c[0])).toEqual(['dump']);
  });

  test('no veritysetup on the host says which package brings it', async () => {
    const run: RunCommand = async () => {
      throw new KeelError('not-found', 'cannot run veritysetup: spawn veritysetup ENOENT');
    };
    await expect(checkSlotVerity('/dev/vdb3', facts, run)).rejects.toThrow("veritysetup (Debian's cryptsetup-bin) is not installed: cannot check the slot's dm-verity tree against the signed root hash");
  });
});

describe('keel update status', () => {
  test.each([
    [`SLOT=a\nVERITY=${hash('c')}\n`, { state: 'on', rootHash: hash('c') }],
    ['SLOT=a\nVERITY=off\n', { state: 'off' }],
    ['SLOT=a\n', { state: 'unknown' }],
    ['SLOT=a\nVERITY=$(reboot)\n', { state: 'unknown' }],
    [`VERITY=${hash('C')}\n`, { state: 'unknown' }],
  ])('boot.env %j reads as %j', (env, expected) => {
    expect(bootVerityOfEnv(env)).toEqual(expected);
  });

  async function hostTree(bootEnv: string | undefined, otherOptions?: string) {
    const root = await tempDir();
    await mkdir(join(root, 'proc'), { recursive: true });
    await writeFile(join(root, 'proc/cmdline'), 'ro keel.slot=a\n');
    await mkdir(join(root, 'usr/lib/keel'), { recursive: true });
    await writeFile(join(root, 'usr/lib/keel/version'), '1.0.0\n');
    if (bootEnv !== undefined) {
      await mkdir(join(root, 'run/keel'), { recursive: true });
      await writeFile(join(root, 'run/keel/boot.env'), bootEnv);
    }
    if (otherOptions !== undefined) {
      await mkdir(join(root, 'boot/loader/entries'), { recursive: true });
      await writeFile(join(root, 'boot/loader/entries/keel-2.0.0+0-3.conf'), `version 2.0.0\noptions ${otherOptions}\n`);
    }
    return root;
  }

  test('a verity-protected boot shows its root hash, and a failed other slot the hash it would have opened with', async () => {
    const root = await hostTree(`SLOT=a\nVERITY=${hash('c')}\n`, `ro keel.slot=b keel.verity=${hash('d')} keel.verity.hashoffset=8192`);
    const report = await updateStatus(root);
    expect(report.booted).toEqual({ slot: 'a', version: '1.0.0', state: 'good', verity: 'on', rootHash: hash('c') });
    expect(report.other).toEqual({ slot: 'b', version: '2.0.0', state: 'bad', verity: 'on', rootHash: hash('d') });
    const text = formatStatus(report);
    expect(text).toContain(`verity:       on, root hash ${hash('c')}\n`);
    expect(text).toContain(`other slot:   b: 2.0.0 (bad)\nother verity: on in its boot entry, root hash ${hash('d')}\n`);
  });

  test('keel.verity=off and an initramfs that recorded nothing are said as such', async () => {
    const off = await updateStatus(await hostTree('SLOT=a\nVERITY=off\n'));
    expect(off.booted).toMatchObject({ verity: 'off', rootHash: null });
    expect(formatStatus(off)).toContain('verity:       off (keel.verity=off: the slot is mounted without dm-verity)\n');
    const none = await updateStatus(await hostTree(undefined, 'ro keel.slot=b'));
    expect(none.booted).toMatchObject({ verity: 'unknown', rootHash: null });
    expect(none.other).toMatchObject({ verity: 'unknown', rootHash: null });
    expect(formatStatus(none)).toContain('verity:       unknown (no VERITY= in /run/keel/boot.env)\n');
    expect(formatStatus(none)).toContain("other verity: unknown (its boot entry carries no keel.verity=)\n");
  });
});
