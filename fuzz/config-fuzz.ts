/**
 * The config fuzzer (issue 9): `count` generated and mutated cloud-configs (config-cases.ts),
 * each read as user-data, validated and (when valid) planned in-process, in a worker thread
 * that a watchdog replaces when one file runs past the hang limit; a sample then goes through
 * the real CLI, `./bin/keel cloud-config validate --json`, many files per call. It reports
 * files tried, crashes (a throw that is not a refusal; a CLI exit other than 0 or 1, or
 * anything on its stderr), hangs, answers without line and column (except whole-file
 * refusals), p50/p99/max time per file and peak memory (RSS). The same seed, the same files.
 *
 * Run (as `make fuzz` does): npx esbuild fuzz/config-fuzz.ts --bundle --platform=node --format=esm \
 *   --target=node20 --packages=external --outfile=.cache/fuzz/config-fuzz.mjs && node .cache/fuzz/config-fuzz.mjs --count 100000 --seed 1
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { KeelError } from '../src/errors.js';
import type { Problem } from '../src/problem.js';
import { userDataProblems } from '../src/cli/cloud-config-validate.js';
import { planUserData } from '../src/cloudconfig/pipeline.js';
import { configCase } from './config-cases.js';

export interface ConfigFuzzOptions {
  count: number;
  seed: number;
  /** Every n-th file also goes through the CLI (0: none). Default 200. */
  cliEvery?: number;
  /** A file still running after this long is a hang (its worker is replaced). Default 5000 ms. */
  hangMs?: number;
  /** Run in this thread (no watchdog: a slow file is still counted as a hang afterwards). */
  inline?: boolean;
  keel?: string;
  /** Where inputs that crashed, hung or were unlocated are kept (the first 20). */
  failuresDir?: string;
  log?: (line: string) => void;
}

export interface ConfigFuzzReport {
  seed: number;
  files: number;
  crashes: number;
  hangs: number;
  unlocated: number;
  /** Files with no error (warnings allowed). */
  valid: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  maxLabels: string;
  cpuP99Ms: number;
  cpuMaxMs: number;
  planMaxMs: number;
  peakRssMb: number;
  cli: { files: number; calls: number; crashes: number; hangs: number; unlocated: number; peakRssMb: number | undefined };
  failures: string[];
  labels: Record<string, number>;
  timeMs: number;
  loadAverage: number[];
}

/** Refusals about the whole file carry no position (0:0); everything else must. */
const wholeFile = [/^the document is \d+ bytes/, /^user-data is \d+ bytes/, /^gzipped user-data /, /^user-data starts like gzip/];
export function unlocatedProblems<P extends Problem>(problems: readonly P[]): P[] {
  return problems.filter((p) => !(p.line >= 1 && p.column >= 1) && !wholeFile.some((re) => re.test(p.message)));
}

/** One file's outcome, as the worker sends it. */
interface Outcome {
  i: number;
  ms: number;
  /** CPU time of the process while the file was read (wall time grows with the machine's load; this less). */
  cpuMs: number;
  planMs: number;
  labels: string[];
  crash?: string;
  unlocated?: string;
  valid: boolean;
}

function runOne(seed: number, i: number, failuresDir: string | undefined, cliDir: string | undefined, cliEvery: number): Outcome {
  const c = configCase(seed, i);
  if (cliDir && cliEvery > 0 && i % cliEvery === 0) writeFileSync(join(cliDir, `${i}.user-data`), c.bytes);
  const out: Outcome = { i, ms: 0, cpuMs: 0, planMs: 0, labels: c.labels, valid: false };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const { problems } = userDataProblems(c.bytes);
    out.ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    out.cpuMs = (cpu.user + cpu.system) / 1000;
    const bad = unlocatedProblems(problems);
    if (bad.length > 0) out.unlocated = `${bad[0]!.line}:${bad[0]!.column} ${bad[0]!.message}`;
    out.valid = !problems.some((p) => p.severity === 'error');
    if (out.valid) {
      const t1 = performance.now();
      try {
        planUserData({ userData: c.bytes, metadata: { sshPublicKeys: [] }, live: false });
      } catch (error) {
        // A valid config that contradicts itself is refused with a KeelError: an answer, not a crash.
        if (!(error instanceof KeelError)) throw error;
      }
      out.planMs = performance.now() - t1;
    }
  } catch (error) {
    out.ms = performance.now() - t0;
    out.crash = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
  }
  if ((out.crash || out.unlocated) && failuresDir) keepFailure(failuresDir, seed, i, c.bytes);
  return out;
}

function keepFailure(dir: string, seed: number, i: number, bytes: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `seed${seed}-case${i}.user-data`);
  writeFileSync(path, bytes);
  return path;
}

/** Runs the in-process part in a worker from `from`; resolves when done or replaced after a hang. */
function runWorker(options: Required<Pick<ConfigFuzzOptions, 'count' | 'seed' | 'hangMs'>> & { from: number; cliDir?: string; cliEvery: number; failuresDir?: string }, onOutcome: (o: Outcome) => void): Promise<{ hungAt?: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: 'config-fuzz', ...options } });
    let last = Date.now();
    let next = options.from;
    const watchdog = setInterval(() => {
      if (Date.now() - last < options.hangMs) return;
      clearInterval(watchdog);
      void worker.terminate().then(() => resolve({ hungAt: next }));
    }, Math.min(500, options.hangMs));
    worker.on('message', (o: Outcome) => {
      last = Date.now();
      next = o.i + 1;
      onOutcome(o);
    });
    worker.on('error', (e) => (clearInterval(watchdog), reject(e)));
    worker.on('exit', () => (clearInterval(watchdog), resolve({})));
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === 'config-fuzz') {
  const w = workerData as { from: number; count: number; seed: number; cliDir?: string; cliEvery: number; failuresDir?: string };
  for (let i = w.from; i < w.count; i++) parentPort!.postMessage(runOne(w.seed, i, w.failuresDir, w.cliDir, w.cliEvery));
}

/** Sends the sampled files through `keel cloud-config validate --json`, 50 per call. */
function runCli(keel: string, dir: string, hangMs: number, report: ConfigFuzzReport, log: (l: string) => void): void {
  const files = existsSync(dir) ? (spawnSync('ls', [dir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((f) => join(dir, f))) : [];
  const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  for (let k = 0; k < files.length; k += 50) {
    const batch = files.slice(k, k + 50);
    const rss = join(dir, 'rss');
    const [cmd, ...args] = time ? [time, '-f', '%M', '-o', rss, keel] : [keel];
    const r = spawnSync(cmd!, [...args, 'cloud-config', 'validate', '--json', ...batch], { encoding: 'utf8', timeout: hangMs * batch.length, maxBuffer: 256 * 1024 * 1024 });
    report.cli.calls++;
    report.cli.files += batch.length;
    if (time && existsSync(rss)) report.cli.peakRssMb = Math.max(report.cli.peakRssMb ?? 0, Math.round(Number(readFileSync(rss, 'utf8').trim().split('\n').pop()) / 1024));
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
      report.cli.hangs++;
      report.failures.push(`cli hang: ${batch.join(' ')}`);
      continue;
    }
    if ((r.status !== 0 && r.status !== 1) || r.stderr !== '') {
      report.cli.crashes++;
      report.failures.push(`cli exit ${r.status ?? r.signal}: ${r.stderr.split('\n')[0]} (${batch[0]}…)`);
      continue;
    }
    const problems = JSON.parse(r.stdout) as (Problem & { file: string })[];
    const bad = unlocatedProblems(problems);
    report.cli.unlocated += new Set(bad.map((p) => p.file)).size;
    for (const p of bad.slice(0, 3)) report.failures.push(`cli unlocated: ${p.file}: ${p.message}`);
    log(`cli: ${report.cli.files} files in ${report.cli.calls} calls`);
  }
}

export async function runConfigFuzz(options: ConfigFuzzOptions): Promise<ConfigFuzzReport> {
  const t0 = Date.now();
  const log = options.log ?? (() => {});
  const hangMs = options.hangMs ?? 5000;
  const cliEvery = options.cliEvery ?? 200;
  const cliDir = cliEvery > 0 ? mkdtempSync(join(tmpdir(), 'keel-config-fuzz-')) : undefined;
  const report: ConfigFuzzReport = {
    seed: options.seed, files: 0, crashes: 0, hangs: 0, unlocated: 0, valid: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, maxLabels: '', cpuP99Ms: 0, cpuMaxMs: 0, planMaxMs: 0, peakRssMb: 0,
    cli: { files: 0, calls: 0, crashes: 0, hangs: 0, unlocated: 0, peakRssMb: undefined }, failures: [], labels: {}, timeMs: 0, loadAverage: [],
  };
  const times = new Float64Array(options.count);
  const cpuTimes = new Float64Array(options.count);
  const onOutcome = (o: Outcome) => {
    cpuTimes[report.files] = o.cpuMs;
    report.cpuMaxMs = Math.max(report.cpuMaxMs, o.cpuMs);
    times[report.files++] = o.ms;
    if (o.ms > report.maxMs) (report.maxMs = o.ms), (report.maxLabels = `case ${o.i}: ${o.labels.join('+')}`);
    report.planMaxMs = Math.max(report.planMaxMs, o.planMs);
    if (o.valid) report.valid++;
    for (const l of o.labels) report.labels[l] = (report.labels[l] ?? 0) + 1;
    if (o.ms + o.planMs > hangMs) report.hangs++, report.failures.push(`slow past the hang limit (${Math.round(o.ms + o.planMs)} ms): case ${o.i} ${o.labels.join('+')}`);
    if (o.crash) report.crashes++, report.failures.push(`crash: case ${o.i} ${o.labels.join('+')}: ${o.crash}`);
    if (o.unlocated) report.unlocated++, report.failures.push(`unlocated: case ${o.i} ${o.labels.join('+')}: ${o.unlocated}`);
    if (report.files % 10_000 === 0) log(`${report.files} files, ${report.crashes} crashes, ${report.hangs} hangs, ${report.unlocated} unlocated, max ${report.maxMs.toFixed(0)} ms`);
  };
  const shared = { cliEvery, ...(cliDir ? { cliDir } : {}), ...(options.failuresDir ? { failuresDir: options.failuresDir } : {}) };
  if (options.inline) for (let i = 0; i < options.count; i++) onOutcome(runOne(options.seed, i, options.failuresDir, cliDir, cliEvery));
  else {
    let from = 0;
    while (from < options.count) {
      const { hungAt } = await runWorker({ count: options.count, seed: options.seed, hangMs, from, ...shared }, onOutcome);
      if (hungAt === undefined) break;
      report.hangs++;
      report.files++;
      report.failures.push(`hang: case ${hungAt} ${configCase(options.seed, hungAt).labels.join('+')}`);
      if (options.failuresDir) keepFailure(options.failuresDir, options.seed, hungAt, configCase(options.seed, hungAt).bytes);
      from = hungAt + 1;
    }
  }
  const sorted = times.slice(0, report.files).sort();
  report.p50Ms = sorted[Math.floor(sorted.length * 0.5)] ?? 0;
  report.p99Ms = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  report.cpuP99Ms = cpuTimes.slice(0, report.files).sort()[Math.floor(report.files * 0.99)] ?? 0;
  report.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  if (cliDir) {
    runCli(options.keel ?? join(import.meta.dirname ?? '.', '../../bin/keel'), cliDir, hangMs, report, log);
    rmSync(cliDir, { recursive: true, force: true });
  }
  report.timeMs = Date.now() - t0;
  report.loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
  return report;
}

/** The report as the lines `make fuzz` prints. */
export function formatReport(r: ConfigFuzzReport): string {
  const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
  return [
    `config fuzz (seed ${r.seed}): ${r.files} files tried in ${(r.timeMs / 1000).toFixed(1)} s (load average ${r.loadAverage.join(' ')}); ${r.valid} valid`,
    `crashes: ${r.crashes}`,
    `hangs: ${r.hangs}`,
    `answers without line and column: ${r.unlocated}`,
    `time per file (wall): p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}, max ${ms(r.maxMs)} (${r.maxLabels}); plan max ${ms(r.planMaxMs)}`,
    `cpu per file: p99 ${ms(r.cpuP99Ms)}, max ${ms(r.cpuMaxMs)}`,
    `peak memory (RSS): ${r.peakRssMb} MB`,
    `through the CLI: ${r.cli.files} files in ${r.cli.calls} calls: crashes ${r.cli.crashes}, hangs ${r.cli.hangs}, answers without line and column ${r.cli.unlocated}, peak RSS ${r.cli.peakRssMb ?? 'n/a'} MB`,
    `mutations: ${Object.entries(r.labels).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...r.failures.slice(0, 30).map((f) => `  ${f}`),
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      'cli-every': { type: 'string', default: '200' },
      'hang-ms': { type: 'string', default: '5000' },
      'max-ms': { type: 'string' },
      'max-rss-mb': { type: 'string' },
      keel: { type: 'string', default: 'bin/keel' },
      json: { type: 'boolean', default: false },
    },
  });
  const whole = (name: string, text: string) => {
    if (!/^\d{1,9}$/.test(text)) throw new Error(`--${name}: expected a whole number, found '${text}'`);
    return Number(text);
  };
  const r = await runConfigFuzz({
    count: whole('count', values.count!),
    seed: whole('seed', values.seed!),
    cliEvery: whole('cli-every', values['cli-every']!),
    hangMs: whole('hang-ms', values['hang-ms']!),
    keel: values.keel!,
    failuresDir: '.cache/fuzz/config-failures',
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${formatReport(r)}\n`);
  const maxMs = values['max-ms'] !== undefined ? whole('max-ms', values['max-ms']) : Infinity;
  const maxRss = values['max-rss-mb'] !== undefined ? whole('max-rss-mb', values['max-rss-mb']) : Infinity;
  const over = [r.maxMs > maxMs && `max time per file ${Math.round(r.maxMs)} ms is over --max-ms ${maxMs}`, r.peakRssMb > maxRss && `peak RSS ${r.peakRssMb} MB is over --max-rss-mb ${maxRss}`].filter(Boolean);
  for (const o of over) process.stdout.write(`config fuzz: ${o}\n`);
  const clean = r.crashes + r.hangs + r.unlocated + r.cli.crashes + r.cli.hangs + r.cli.unlocated === 0;
  return clean && over.length === 0 ? 0 : 1;
}

// Run as a script (the esbuild bundle's main thread), not when a test imports the module.
if (isMainThread && import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`config fuzz: ${error.message}\n`);
      process.exit(2);
    },
  );
}
