// Issue 11's window bug, end to end with the built ./bin/keel: a cloud-config that
// `keel cloud-config validate` accepts is applied under a temporary root, and the update
// agent's own reader (`keel update check --root`) then reads the update.conf and lock.conf
// it wrote. Before the fix `window_length: 90min` was written to lock.conf and refused by
// the agent (it knew no `min`, and blamed update.conf), and `check_interval: 90s` was
// written as CHECK_INTERVAL_MINUTES=1.5, which the agent refused too.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeKey, publish } from '../update/fixture.js';

const repo = join(import.meta.dirname, '../../..');
let work: string;

function keel(args: string[]) {
  const r = spawnSync(join(repo, 'bin/keel'), args, { cwd: work, encoding: 'utf8', timeout: 60_000, env: { ...process.env, KEEL_UPDATE_TEST_EDGES: '' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A host tree booted from slot a at 1.0.0 that trusts `publicPem`. */
async function hostRoot(name: string, publicPem: string): Promise<string> {
  const root = join(work, name);
  await mkdir(join(root, 'proc'), { recursive: true });
  await mkdir(join(root, 'usr/lib/keel'), { recursive: true });
  await writeFile(join(root, 'proc/cmdline'), 'console=ttyS0 ro keel.slot=a\n');
  await writeFile(join(root, 'usr/lib/keel/version'), '1.0.0\n');
  await writeFile(join(root, 'usr/lib/keel/update-trust.pub'), publicPem);
  return root;
}

const key = makeKey();
let repoUrl: string;

beforeAll(async () => {
  const build = spawnSync('node', ['scripts/build.mjs'], { cwd: repo, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  work = await mkdtemp(join(tmpdir(), 'keel-settings-roundtrip-'));
  for (const version of ['1.0.0', '2.0.0']) await publish(join(work, 'repo'), work, key.signer, version, { size: 4096 });
  repoUrl = pathToFileURL(join(work, 'repo')).toString();
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('cloud-config validate → apply → update check', () => {
  test('window_length: 90min and check_interval: 90s are read back by the agent', async () => {
    const config = join(work, 'user-data.yaml');
    await writeFile(
      config,
      [
        '#cloud-config',
        'coreos:',
        '  locksmith:',
        '    window_start: Thu 04:00',
        '    window_length: 90min',
        'keel:',
        '  update:',
        `    server: ${repoUrl}`,
        '    check_interval: 90s',
        '',
      ].join('\n'),
    );
    expect(keel(['cloud-config', 'validate', config])).toEqual({ code: 0, stdout: '', stderr: '' });

    const root = await hostRoot('root', key.publicPem);
    const applied = keel(['cloud-config', 'apply', '--root', root, '--from-file', config]);
    expect(applied.code, applied.stderr).toBe(0);
    const check = keel(['update', 'check', '--json', '--root', root]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toEqual({ available: '2.0.0', channel: 'stable' });
    const status = JSON.parse(keel(['update', 'status', '--json', '--root', root]).stdout);
    expect(status).toMatchObject({ server: repoUrl, strategy: 'best-effort', lastError: null, lastCheckResult: 'found 2.0.0' });
    // What the agent just read: the window as written, the interval as a duration it accepts.
    expect((await readFile(join(root, 'etc/keel/lock.conf'), 'utf8')).split('\n')).toEqual(expect.arrayContaining(['WINDOW_START="Thu 04:00"', 'WINDOW_LENGTH=90min']));
    expect((await readFile(join(root, 'etc/keel/update.conf'), 'utf8')).split('\n')).toEqual(expect.arrayContaining(['CHECK_INTERVAL=1m30s']));
  });

  test('a CHECK_INTERVAL_MINUTES=1.5 left by the old writer is read as 90 s', async () => {
    const root = await hostRoot('old-root', key.publicPem);
    await mkdir(join(root, 'etc/keel'), { recursive: true });
    await writeFile(join(root, 'etc/keel/update.conf'), `SERVER=${repoUrl}\nCHECK_INTERVAL_MINUTES=1.5\n`);
    const check = keel(['update', 'check', '--root', root]);
    expect(check.stderr).toBe('');
    expect({ code: check.code, stdout: check.stdout }).toEqual({ code: 0, stdout: 'update available: 2.0.0 (channel stable)\n' });
  });

  test('a bad window length in lock.conf is refused naming lock.conf and the key', async () => {
    const root = await hostRoot('bad-root', key.publicPem);
    await mkdir(join(root, 'etc/keel'), { recursive: true });
    await writeFile(join(root, 'etc/keel/update.conf'), `SERVER=${repoUrl}\n`);
    await writeFile(join(root, 'etc/keel/lock.conf'), 'WINDOW_START="Thu 04:00"\nWINDOW_LENGTH="90 min"\n');
    const check = keel(['update', 'check', '--root', root]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(`${join(root, 'etc/keel/lock.conf')}: WINDOW_LENGTH: expected a duration such as 90s, 10m or 1h30m, found '90 min'`);
    expect(check.stderr).not.toContain('update.conf');
  });
});
