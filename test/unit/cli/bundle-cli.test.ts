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

test('a bundle per command group, each with a code cache that this node accepts', () => {
  const bundles = readdirSync(join(repo, 'bin')).filter((f) => /^keel(\.[a-z-]+)?\.cjs$/.test(f));
  expect(bundles.sort()).toEqual(['keel.cjs', ...['cloud-config', 'containers', 'fleet', 'install', 'lock', 'update'].map((g) => `keel.${g}.cjs`)]);
  for (const name of bundles) {
    // The loader compiles the file as it is (a CommonJS wrapper function); compile it the same way.
    const script = new Script(readFileSync(join(repo, 'bin', name), 'utf8'), { filename: join(repo, 'bin', name), cachedData: readFileSync(join(repo, 'bin', `${name}.cache`)) });
    expect(script.cachedDataRejected, name).toBe(false);
  }
  // A group's bundle holds that group alone: validate's is a quarter of update's.
  const size = (name: string) => readFileSync(join(repo, 'bin', name)).length;
  expect(size('keel.cloud-config.cjs')).toBeLessThan(size('keel.update.cjs') / 2);
  expect(size('keel.cjs')).toBeLessThan(50_000);
  // The loader says so under KEEL_DEBUG when a cache is not used; here each is.
  for (const args of [['--version'], ['cloud-config', 'validate', 'cloud-config/examples/demo.yaml'], ['lock', 'status', '--help'], ['update', '--help']]) {
    const r = spawnSync(join(repo, 'bin/keel'), args, { cwd: repo, encoding: 'utf8', env: { ...process.env, KEEL_DEBUG: '1' } });
    expect(r, args.join(' ')).toMatchObject({ status: 0, stderr: '' });
  }
});

test('the top bundle lists every group; a group whose bundle is missing is one clear line', () => {
  const help = keel(['--help']).stdout;
  for (const group of ['cloud-config', 'update', 'lock', 'fleet', 'containers', 'install']) expect(help).toMatch(new RegExp(`^ {2}${group} `, 'm'));
  // The top bundle run for a group word (as when keel.GROUP.cjs is missing) says what to do.
  const run = `new (require('vm').Script)(require('fs').readFileSync(${JSON.stringify(join(repo, 'bin/keel.cjs'))}, 'utf8')).runInThisContext()(exports, require, module, __filename, __dirname);`;
  const r = spawnSync(process.execPath, ['-e', run, 'node-e', 'lock', 'status'], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toBe("keel: this build has no bundle for 'keel lock' (keel.lock.cjs): run make build\n");
});

test('node bin/keel.mjs runs keel as bin/keel does', () => {
  const r = spawnSync(process.execPath, [join(repo, 'bin/keel.mjs'), 'cloud-config', 'validate', 'cloud-config/examples/demo.yaml'], { cwd: repo, encoding: 'utf8' });
  expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
  const usage = spawnSync(process.execPath, [join(repo, 'bin/keel.mjs'), 'no-such-command'], { cwd: repo, encoding: 'utf8' });
  expect(usage).toMatchObject({ status: 2, stderr: "keel: unknown command 'no-such-command'; run 'keel --help'\n" });
});
