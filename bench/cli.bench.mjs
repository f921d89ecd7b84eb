#!/usr/bin/env node
// keel's start-up cost per CLI call, beside bare node's: `node -e 0` and
//   keel --help
//   keel cloud-config validate cloud-config/examples/demo.yaml
//   keel lock status --endpoints <a one-member etcd on loopback that this bench starts>
// for ./bin/keel and the single executable (build/keel, made with `make keel-sea` first), and
// `cloud-init schema --config-file F` when cloud-init is installed (the Python peer; not
// installed by default: "not installed" then). Runs are paired and interleaved: each round
// runs every command once, in a rotating order, so a load change hits all of them alike.
// Prints median wall ms, the ratio of medians to `node -e 0`, the median of the per-round
// ratios, and the load average before and after. Goal (issue 16): every keel ratio ≤ 1.25.
// Knobs: KEEL_BENCH_CLI_RUNS (rounds, default 21), KEEL_BENCH_CLI_SEA=0 skips the executable.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const repo = resolve(new URL('..', import.meta.url).pathname);
const rounds = Math.max(15, Number(process.env.KEEL_BENCH_CLI_RUNS ?? 21));
const withSea = process.env.KEEL_BENCH_CLI_SEA !== '0';
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const sh = (cmd, args) => execFileSync(cmd, args, { cwd: repo, stdio: ['ignore', 'inherit', 'inherit'] });
sh(process.execPath, ['scripts/build.mjs']);
if (withSea) sh('make', ['-s', 'keel-sea']);

const freePort = () =>
  new Promise((ok, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });

// One etcd member on loopback, data on tmpfs when there is one.
const dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : '/tmp', 'keel-cli-bench-'));
const [clientPort, peerPort] = [await freePort(), await freePort()];
const endpoint = `http://127.0.0.1:${clientPort}`;
const etcd = spawn('/usr/bin/etcd', [
  '--name=bench', `--data-dir=${dataDir}`, `--listen-client-urls=${endpoint}`, `--advertise-client-urls=${endpoint}`,
  `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
  `--initial-cluster=bench=http://127.0.0.1:${peerPort}`, '--heartbeat-interval=10', '--election-timeout=100', '--log-level=error', '--logger=zap',
], { stdio: 'ignore' });
const stopEtcd = () => {
  etcd.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
};
process.on('exit', stopEtcd);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
for (let i = 0; ; i++) {
  const r = await fetch(`${endpoint}/health`).then((res) => res.json()).catch(() => undefined);
  if (r?.health === 'true') break;
  if (i > 100) throw new Error('bench: etcd on loopback did not become healthy in 10 s');
  await new Promise((ok) => setTimeout(ok, 100));
}

const config = join(repo, 'cloud-config/examples/demo.yaml');
const keelArgs = [['--help'], ['cloud-config', 'validate', config], ['lock', 'status', '--endpoints', endpoint]];
const cases = [{ name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'] }];
const keels = [['./bin/keel', join(repo, 'bin/keel')], ...(withSea ? [['build/keel (SEA)', join(repo, 'build/keel')]] : [])];
for (const [label, bin] of keels) for (const args of keelArgs) cases.push({ name: `${label} ${args.join(' ').replace(repo + '/cloud-config/examples/', '').replace(endpoint, 'URL')}`, cmd: bin, args, keel: true });
const cloudInit = spawnSync('sh', ['-c', 'command -v cloud-init'], { encoding: 'utf8' }).stdout.trim();
if (cloudInit) cases.push({ name: 'cloud-init schema --config-file demo.yaml', cmd: cloudInit, args: ['schema', '--config-file', config] });

// Every command must succeed once before timing (a failing command is fast and misleading).
for (const c of cases) {
  const r = spawnSync(c.cmd, c.args, { encoding: 'utf8' });
  if (r.status !== 0 && !(c.cmd === cloudInit)) throw new Error(`bench: ${c.name} exited ${r.status}: ${r.stderr}`);
}

// CPU (user + system) of the waited-for children, from /proc/self/stat (cutime + cstime, in
// clock ticks of 10 ms): per run it is coarse, but its mean over the rounds is close, and it
// moves far less than wall time when other work shares the cores.
const childCpuMs = () => {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
};
const run = (c, i) => {
  const [t, cpu] = [process.hrtime.bigint(), childCpuMs()];
  spawnSync(c.cmd, c.args, { stdio: 'ignore' });
  times[i].push(Number(process.hrtime.bigint() - t) / 1e6);
  cpus[i] += childCpuMs() - cpu;
};
const loadBefore = load();
const times = cases.map(() => []);
const cpus = cases.map(() => 0);
for (let r = 0; r < rounds; r++) for (let k = 0; k < cases.length; k++) run(cases[(k + r) % cases.length], (k + r) % cases.length);
const loadAfter = load();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(times[0]);
console.log(`cli start-up: ${rounds} interleaved rounds; load average ${loadBefore} before, ${loadAfter} after; node ${process.version}`);
console.log('wall: median ms, its ratio to node -e 0, and the median of the per-round ratios (paired); cpu: mean ms and ratio');
console.log(`${'command'.padEnd(52)} ${'wall'.padStart(6)} ${'ratio'.padStart(6)} ${'paired'.padStart(6)} ${'cpu'.padStart(6)} ${'ratio'.padStart(6)}  goal ≤ 1.25 (paired)`);
let over = 0;
const baseCpu = cpus[0] / rounds;
cases.forEach((c, i) => {
  const m = median(times[i]);
  const paired = median(times[i].map((t, r) => t / times[0][r]));
  const cpu = cpus[i] / rounds;
  const verdict = c.keel ? (paired <= 1.25 ? 'ok' : (over++, 'over')) : '';
  console.log(`${c.name.padEnd(52)} ${m.toFixed(0).padStart(6)} ${(m / base).toFixed(2).padStart(6)} ${paired.toFixed(2).padStart(6)} ${cpu.toFixed(0).padStart(6)} ${(cpu / baseCpu).toFixed(2).padStart(6)}  ${verdict}`);
});
if (!cloudInit) console.log(`${'cloud-init schema'.padEnd(58)} not installed`);
console.log(over ? `${over} keel command(s) over 1.25× node -e 0` : 'every keel command within 1.25× node -e 0');
// The etcd child would keep the event loop alive: the 'exit' handler stops it.
process.exit(0);
