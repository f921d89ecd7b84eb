import { afterAll, beforeAll, expect, test } from 'vitest';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { readRecords } from '../../../src/update/progress-record.js';
import { serveDirectory, type StaticServer } from './static-server.js';

// Kill `keel update install` with SIGKILL at random points of a throttled 64 MiB download
// and start it again, until it finishes. After every kill the target is either absent or
// the complete verified image, and what is on disk is a resumable partial: the record never
// claims more bytes than are durable and correct. The final run resumes instead of restarting.
const keel = join(process.cwd(), 'bin/keel');
const size = 64 << 20;
let work: string;
let server: StaticServer;
let image: Buffer;
const key = makeKey();

beforeAll(async () => {
  work = await tempDir('keel-kill-');
  image = await publish(join(work, 'repo'), work, key.signer, '2.0.0', { size });
  await writeFile(join(work, 'trust.pub'), key.publicPem);
  server = await serveDirectory(work, { bytesPerSecond: 16 << 20 });
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('killed at random points, install ends with the verified image and resumes from disk', async () => {
  const target = join(work, 'slot-b.img');
  const stateDir = join(work, 'state');
  const args = ['update', 'install', '--repo', `${server.url}/repo`, '--target', target, '--trust', join(work, 'trust.pub'), '--state', stateDir, '--root', work, '--json'];
  let kills = 0;
  let resumed = 0;
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let attempt = 0; attempt < 25; attempt++) {
    const child = execa(keel, args, { reject: false });
    const killAfter = attempt < 6 ? 1200 + random() * 1300 : undefined;
    const timer = killAfter === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfter);
    const run = await child;
    clearTimeout(timer);
    if (run.exitCode === 0) {
      const out = JSON.parse(run.stdout) as { installed: string; resumedFrom: number };
      expect(out.installed).toBe('2.0.0');
      if (out.resumedFrom > 0) resumed++;
      break;
    }
    expect(run.signal, run.stderr).toBe('SIGKILL');
    kills++;
    // Either the complete verified image or no target at all.
    const targetInfo = await stat(target).catch(() => undefined);
    if (targetInfo) expect(Buffer.compare(await readFile(target), image)).toBe(0);
    // The partial record claims only bytes that are durable and correct.
    const partial = (await readRecords(stateDir)).find((r) => r.phase === 'partial');
    if (partial) {
      expect(targetInfo).toBeUndefined();
      const data = await open(`${target}.keel-partial`, 'r');
      const prefix = Buffer.alloc(partial.written);
      await data.read(prefix, 0, partial.written, 0);
      await data.close();
      expect(Buffer.compare(prefix, image.subarray(0, partial.written)), `first ${partial.written} bytes`).toBe(0);
    }
  }
  expect(kills).toBeGreaterThanOrEqual(3);
  expect(Buffer.compare(await readFile(target), image)).toBe(0);
  expect(resumed).toBe(1);
  expect(server.rangeRequests).toBeGreaterThan(0);
  expect((await readRecords(stateDir)).map((r) => r.phase)).toEqual(['pending']);
});
