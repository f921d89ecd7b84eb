import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { readRecords, recordPartial } from '../../../src/update/progress-record.js';
import { serveDirectory, type StaticServer } from './static-server.js';

// A run killed after its last chunk was recorded (during the read-back and the dm-verity check)
// leaves a partial record that covers every byte. The next run must finish from disk: asking
// the server for a Range starting at the end was answered 416 and failed the install once
// (install-kill.test.ts met it when the kill landed in the verity check).
const keel = join(process.cwd(), 'bin/keel');
const key = makeKey();
let work: string;
let server: StaticServer;
let image: Buffer;

beforeAll(async () => {
  work = await tempDir('keel-resume-');
  image = await publish(join(work, 'repo'), work, key.signer, '2.0.0', { size: 1 << 20 });
  await writeFile(join(work, 'trust.pub'), key.publicPem);
  server = await serveDirectory(work);
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('a partial record covering every byte finishes without downloading', async () => {
  const target = join(work, 'slot-b.img');
  const stateDir = join(work, 'state');
  await writeFile(`${target}.keel-partial`, image);
  const sha256 = createHash('sha256').update(image).digest('hex');
  await recordPartial(stateDir, { version: '2.0.0', target, length: image.length, sha256, written: image.length, updatedAt: new Date().toISOString() });
  const run = await execa(keel, ['update', 'install', '--repo', `${server.url}/repo`, '--target', target, '--trust', join(work, 'trust.pub'), '--state', stateDir, '--root', work, '--json'], { reject: false });
  expect(run.exitCode, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ installed: '2.0.0', resumedFrom: image.length });
  expect(server.rangeRequests).toBe(0);
  expect(Buffer.compare(await readFile(target), image)).toBe(0);
  expect((await readRecords(stateDir)).map((r) => r.phase)).toEqual(['pending']);
});
