import { describe, expect, test } from 'vitest';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { installRelease } from '../../../src/update/release-installer.js';
import { parseTufMetadata } from '../../../src/update/metadata-shape.js';
import { fsFailure } from '../../../src/host/fs-failure.js';
import { readNodeState } from '../../../src/update/node-state.js';
import { readRecords } from '../../../src/update/progress-record.js';
import { KeelError } from '../../../src/errors.js';
import { updateCommands, withPlainErrors } from '../../../src/cli/update.js';
import { makeKey, publish, tempDir } from './fixture.js';

// Hostile install input (issue 9, defect 10): metadata of any wrong shape, damaged state files
// and unusable targets are refused with a message naming the file and what was expected;
// internal JavaScript error text never reaches the user, and no partial file is left behind.
const internalText = /Cannot (read|destructure|convert)|TypeError|ReferenceError|is not a function|is not iterable|of null|of undefined|\(reading /;

async function refusal(run: () => Promise<unknown>): Promise<KeelError> {
  const error = await run().then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeelError);
  expect((error as KeelError).message).not.toMatch(internalText);
  expect((error as KeelError).message).not.toContain('\n');
  return error as KeelError;
}

async function goodRepo() {
  const work = await tempDir();
  const key = makeKey();
  const repo = join(work, 'repo');
  await publish(repo, work, key.signer, '1.0.0');
  const request = (over: { repo?: string; target?: string; stateDir?: string } = {}) => ({
    repo: over.repo ?? repo,
    trustPem: key.publicPem,
    target: over.target ?? join(work, 'slot.img'),
    stateDir: over.stateDir ?? join(work, 'state'),
    channel: 'stable',
    nowMs: Date.now(),
  });
  return { work, repo, key, request };
}

/** Every JSON path of a value, for mutating one node at a time. */
function pathsOf(value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, Array.isArray(value) ? Number(k) : k], out);
  return out;
}

describe('TUF metadata of the wrong shape', () => {
  test('every node of every role replaced by null, a list, a string, a number or an object is refused by name', async () => {
    const { repo } = await goodRepo();
    let tried = 0;
    for (const [file, role] of [['1.root.json', 'root'], ['timestamp.json', 'timestamp'], ['snapshot.json', 'snapshot'], ['targets.json', 'targets']] as const) {
      const doc = JSON.parse(await readFile(join(repo, 'metadata', file), 'utf8'));
      for (const path of pathsOf(doc))
        for (const replacement of [null, [], 'x', 1, {}, true, [null], { a: null }]) {
          const copy = JSON.parse(JSON.stringify(doc));
          let text: string;
          if (path.length === 0) text = JSON.stringify(replacement);
          else {
            let node = copy;
            for (const k of path.slice(0, -1)) node = node[k];
            node[path.at(-1)!] = replacement;
            text = JSON.stringify(copy);
          }
          tried++;
          try {
            parseTufMetadata(text, role, { label: file, consequence: 'refusing' });
          } catch (error) {
            expect(error, `${file} ${path.join('.')} = ${JSON.stringify(replacement)}`).toBeInstanceOf(KeelError);
            expect((error as Error).message).toMatch(new RegExp(`^${file.replace('.', '\\.')}`));
            expect((error as Error).message).not.toMatch(internalText);
          }
        }
    }
    expect(tried).toBeGreaterThan(400);
  });

  test.each([
    ['targets.json', 'null', /metadata\/targets\.json: expected TUF targets metadata \(a JSON object with "signed" and "signatures"\), found null; refusing to install$/],
    ['timestamp.json', 'null', /metadata\/timestamp\.json: expected TUF timestamp metadata .*, found null/],
    ['snapshot.json', '[]', /metadata\/snapshot\.json: expected TUF snapshot metadata .*, found a list/],
    ['1.root.json', '{"signed": null, "signatures": []}', /metadata\/1\.root\.json: signed: expected an object, found null/],
    ['targets.json', '{"signed": {"_type": "targets", "targets": null}, "signatures": []}', /metadata\/targets\.json: signed\.targets: expected an object, found null/],
    ['timestamp.json', '{"signed": {"_type": "timestamp", "meta": {"snapshot.json": null}}, "signatures": []}', /metadata\/timestamp\.json: signed\.meta\["snapshot\.json"\]: expected an object, found null/],
  ])('a repository whose %s is %s is refused naming it; no target, no partial', async (file, text, message) => {
    const { work, repo, request } = await goodRepo();
    await writeFile(join(repo, 'metadata', file), text);
    expect((await refusal(() => installRelease(request()))).message).toMatch(message);
    expect((await readdir(work)).filter((n) => n.startsWith('slot'))).toEqual([]);
  });

  test.each([
    ['metadata/snapshot.json', /metadata\/snapshot\.json: is not a regular file; expected repository content; refusing it$/],
    ['targets/stable/1.0.0/root.img', /root\.img: is not a regular file; expected repository content; refusing it$/],
  ])('a directory where the repository has %s is refused by name', async (path, message) => {
    const { work, repo, request } = await goodRepo();
    await rm(join(repo, path));
    await mkdir(join(repo, path));
    expect((await refusal(() => installRelease(request()))).message).toMatch(message);
    expect((await readdir(work)).filter((n) => n.startsWith('slot'))).toEqual([]);
  });

  test("a damaged trusted root in this node's state names the file and the way out", async () => {
    const { work, request } = await goodRepo();
    await installRelease(request({ target: join(work, 'first.img') }));
    await writeFile(join(work, 'state/tuf/root.json'), 'null');
    const error = await refusal(() => installRelease(request()));
    expect(error.message).toMatch(/state\/tuf\/root\.json: expected TUF root metadata .*, found null; this node's stored metadata is damaged: remove .*root\.json to trust the pinned key again; nothing installed$/);
  });
});

describe('damaged state files are not trusted blindly', () => {
  test('status.json with fields of the wrong type: those fields are dropped, the install goes on', async () => {
    const { work, request } = await goodRepo();
    await mkdir(join(work, 'state'), { recursive: true });
    await writeFile(join(work, 'state/status.json'), JSON.stringify({ highestSeen: 5, failedVersions: null, lastError: {}, staged: null, note: 'kept' }));
    expect(await readNodeState(join(work, 'state'))).toEqual({ failedVersions: [], note: 'kept' });
    expect((await installRelease(request())).kind).toBe('installed');
  });

  test('a progress record whose offset is not a count within the length is ignored', async () => {
    const dir = await tempDir();
    const base = { version: '1.0.0', phase: 'partial', target: '/t', length: 10, sha256: 'ab', updatedAt: '' };
    await writeFile(join(dir, '1.0.0.partial'), JSON.stringify({ ...base, written: 'abc' }));
    await writeFile(join(dir, '2.0.0.partial'), JSON.stringify({ ...base, version: '2.0.0', written: 11 }));
    await writeFile(join(dir, '3.0.0.partial'), JSON.stringify({ ...base, version: '3.0.0', written: 4 }));
    expect((await readRecords(dir)).map((r) => r.version)).toEqual(['3.0.0']);
  });
});

describe('the target is checked before anything is fetched', () => {
  // The repository does not answer: a refusal about the target proves nothing was fetched first.
  const nowhere = 'http://127.0.0.1:9/';
  test.each([
    ['a directory', async (w: string) => { await mkdir(join(w, 't')); return join(w, 't'); }, /\/t: is a directory; expected a slot image file path \(which may not exist yet\) or a block device; nothing downloaded$/],
    ['a path under a regular file', async (w: string) => { await writeFile(join(w, 'f'), ''); return join(w, 'f/slot.img'); }, /\/f\/slot\.img: cannot inspect the target: a part of the path is not a directory \(ENOTDIR\); check the path.*; nothing downloaded$/],
    ['a path in a missing directory', async (w: string) => join(w, 'missing/slot.img'), /\/missing: cannot inspect the directory of the target: it does not exist \(ENOENT\)/],
    ['a character device', async () => '/dev/null', /^\/dev\/null: is a character device/],
    ['a FIFO', async (w: string) => { await execa('mkfifo', [join(w, 'p')]); return join(w, 'p'); }, /\/p: is a FIFO/],
    ['a file whose partial is a symlink', async (w: string) => { await symlink('/etc/hostname', join(w, 's.img.keel-partial')); return join(w, 's.img'); }, /s\.img\.keel-partial: is a symlink, where keel keeps a download in progress; remove it and run again/],
  ])('%s is refused', async (_name, make, message) => {
    const work = await tempDir();
    const target = await make(work);
    const before = (await readdir(work)).sort();
    const error = await refusal(() => installRelease({ repo: nowhere, trustPem: makeKey().publicPem, target, stateDir: join(work, 'state'), channel: 'stable', nowMs: Date.now() }));
    expect(error.message).toMatch(message);
    expect((await readdir(work)).sort()).toEqual(before);
  });

  test('a failed verification leaves neither the target nor its partial file', async () => {
    const { work, repo, request } = await goodRepo();
    const image = join(repo, 'targets/stable/1.0.0/root.img');
    const bytes = await readFile(image);
    bytes[5] = bytes[5]! ^ 1;
    await writeFile(image, bytes);
    expect((await refusal(() => installRelease(request()))).message).toMatch(/does not match the signed .*\(tampered\); discarded what was written, nothing installed$/);
    expect((await readdir(work)).filter((n) => n.startsWith('slot'))).toEqual([]);
    expect(await readRecords(join(work, 'state'))).toEqual([]);
  });
});

describe('errno errors carry the path and a next step', () => {
  test.each([
    ['ENOSPC', /^\/x: cannot write: no space left on the device \(ENOSPC\); free space there and run again; nothing published$/],
    ['ENOTDIR', /^\/x: cannot write: a part of the path is not a directory \(ENOTDIR\); check the path/],
    ['EACCES', /^\/x: cannot write: permission denied \(EACCES\); check its owner and mode/],
    ['EROFS', /^\/x: cannot write: the filesystem is read-only \(EROFS\); remount it read-write/],
    ['EWHATEVER', /^\/x: cannot write: system error EWHATEVER \(EWHATEVER\); check the path and run again/],
  ])('%s', (code, message) => {
    const error = fsFailure(Object.assign(new Error(`${code}: bare`), { code }), '/x', 'write', 'nothing published');
    expect(error.message).toMatch(message);
    expect(error.kind).toBe('io');
  });

  test('ENOENT is not-found; a KeelError passes through; a non-errno error shows no internal text', () => {
    expect(fsFailure(Object.assign(new Error('x'), { code: 'ENOENT' }), '/x', 'read').kind).toBe('not-found');
    const keel = new KeelError('conflict', 'already');
    expect(fsFailure(keel, '/x', 'read')).toBe(keel);
    expect(fsFailure(new TypeError("Cannot read properties of null (reading 'x')"), '/x', 'read').message).toBe('/x: cannot read: an unexpected failure; check the path and run again');
  });
});


describe('keel update never prints JavaScript error text', () => {
  const ctx = { values: {}, positionals: [], json: false, stdout: process.stdout, stderr: process.stderr };
  const failing = (error: unknown) => withPlainErrors({ name: 'demo', summary: '', run: async () => Promise.reject(error) });

  test('an internal error is called a bug, without its text', async () => {
    const error = await refusal(() => failing(new TypeError("Cannot read properties of null (reading 'version')")).run(ctx));
    expect(error.kind).toBe('internal');
    expect(error.message).toBe('keel update demo failed on an internal error; this is a bug in keel: please report it with the output of KEEL_DEBUG=1');
  });

  test('a bare errno error gets its path and a next step', async () => {
    const bare = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/var/lib/keel/update/x' });
    const error = await refusal(() => failing(bare).run(ctx));
    expect(error.message).toBe('/var/lib/keel/update/x: cannot complete keel update demo: no space left on the device (ENOSPC); free space there and run again');
  });

  test('the real commands are guarded: status with a broken output stream', async () => {
    const root = await tempDir();
    const broken = { write: () => { throw new TypeError("Cannot read properties of undefined (reading 'write')"); } } as unknown as NodeJS.WritableStream;
    const status = updateCommands.commands.find((c) => c.name === 'status')!;
    const error = await refusal(() => status.run({ ...ctx, values: { root }, stdout: broken }));
    expect(error.kind).toBe('internal');
  });
});
