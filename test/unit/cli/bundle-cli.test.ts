// The built ./bin/keel as a user runs it: lazy commands (loaded only when they run) behave as
// eager ones did, and the code cache made at build time is one this node accepts.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { beforeAll, expect, test } from 'vitest';

const repo = join(import.meta.dirname, '../../..');

function keel(args: string[]) {
  const r = spawnSync(join(repo, 'bin/keel'), args, { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  const build = spawnSync('node', ['scripts/build.mjs'], { cwd: repo, encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
}, 120_000);

test('a group lists its lazy commands with their summaries', () => {
  const r = keel(['lock', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ {2}serve +serve the FleetLock protocol/m);
  expect(r.stdout).toMatch(/^ {2}setup-auth +create keel's etcd roles/m);
  expect(keel(['cloud-config', '--help']).stdout).toMatch(/^ {2}apply +apply a cloud-config under a root/m);
});

test.each([
  [['cloud-config', 'plan', '--help'], 'usage: keel cloud-config plan [options]', '--from-file F'],
  [['cloud-config', 'apply', '--help'], 'usage: keel cloud-config apply [options]', '--dry-run'],
  [['lock', 'serve', '--help'], 'usage: keel lock serve [options]', '--listen'],
  [['lock', 'setup-auth', '--help'], 'usage: keel lock setup-auth [options]', '--endpoints'],
])('keel %j loads the command and prints its help', (args, usage, option) => {
  const r = keel(args);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout.startsWith(usage)).toBe(true);
  expect(r.stdout).toContain(option);
});

test('a lazy command runs: plan of an example prints its operations; a bad flag is a usage error', () => {
  const plan = keel(['cloud-config', 'plan', '--from-file', 'cloud-config/examples/users-and-files.yaml']);
  expect(plan.code, plan.stderr).toBe(0);
  expect(plan.stdout).toMatch(/write-file/);
  expect(keel(['lock', 'serve', '--no-such-flag'])).toMatchObject({ code: 2 });
});

test('the code caches beside the bundle (one per command group) match it for this node', () => {
  const source = readFileSync(join(repo, 'bin/keel.cjs'), 'utf8');
  const loader = readFileSync(join(repo, 'bin/keel-loader.cjs'), 'utf8');
  // The loader wraps the bundle in a function; compile the same text the same way.
  const [head, tail] = [...loader.matchAll(/const source = ("[^"]*") \+ readFileSync\(file, 'utf8'\) \+ ("[^"]*");/g)][0]!.slice(1).map((s) => JSON.parse(s) as string);
  const caches = readdirSync(join(repo, 'bin')).filter((f) => /^keel\.cjs\.[a-z-]+\.cache$/.test(f));
  expect(caches).toEqual(expect.arrayContaining(['keel.cjs.default.cache', 'keel.cjs.cloud-config.cache', 'keel.cjs.lock.cache']));
  for (const cache of caches) {
    const script = new Script(head + source + tail, { filename: 'keel.cjs', cachedData: readFileSync(join(repo, 'bin', cache)) });
    expect(script.cachedDataRejected, cache).toBe(false);
  }
  // The loader says so under KEEL_DEBUG when it is not; here it is used.
  const r = spawnSync(join(repo, 'bin/keel'), ['--version'], { encoding: 'utf8', env: { ...process.env, KEEL_DEBUG: '1' } });
  expect(r).toMatchObject({ status: 0, stderr: '' });
});

test('node bin/keel.mjs runs keel as bin/keel does', () => {
  const r = spawnSync(process.execPath, [join(repo, 'bin/keel.mjs'), 'cloud-config', 'validate', 'cloud-config/examples/demo.yaml'], { cwd: repo, encoding: 'utf8' });
  expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
  const usage = spawnSync(process.execPath, [join(repo, 'bin/keel.mjs'), 'no-such-command'], { cwd: repo, encoding: 'utf8' });
  expect(usage).toMatchObject({ status: 2, stderr: "keel: unknown command 'no-such-command'; run 'keel --help'\n" });
});
