/**
 * The HTTP fuzzer for `keel lock serve` (issue 9): starts the real server
 * (`./bin/keel lock serve`) against a real etcd on loopback, sends `count` generated
 * requests (fuzz/http-cases.ts) from `concurrency` clients at once, and reports requests
 * tried, server exits (the server is started again so the run goes on), 5xx answers and
 * the inputs that drew them, hangs, and the time taken. Loopback only; bounded in count
 * and time; the same seed sends the same requests.
 *
 * Run: npx esbuild fuzz/http-fuzz.ts --bundle --platform=node --format=esm --target=node20 \
 *        --packages=external --outfile=.cache/fuzz/http-fuzz.mjs && node .cache/fuzz/http-fuzz.mjs --count 2000 --seed 1
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEtcd, type EtcdCluster } from '../test/harness/etcd.js';
import { caseGenerator, type HttpCase } from './http-cases.js';

export interface HttpFuzzOptions {
  count: number;
  seed: number;
  /** Stop sending after this long even if `count` is not reached. Default 10 minutes. */
  timeLimitMs?: number;
  concurrency?: number;
  /** An etcd to use; default: start one member on loopback for the run. */
  endpoints?: string[];
  keel?: string;
  /** Options for `keel lock serve` after the endpoints and listen address. Default: a base path, 2 slots, 10 groups. */
  serveArgs?: string[];
  /** A client waits this long for an answer before counting a hang. Default 15 s. */
  answerTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface HttpFuzzReport {
  seed: number;
  requests: number;
  serverExits: number;
  /** 5xx answers by kind, and the inputs of those that answered a client mistake. */
  fiveXx: number;
  fiveXxOnMistakes: number;
  fiveXxInputs: string[];
  exitInputs: string[];
  hangs: number;
  hangInputs: string[];
  /** Requests whose connection closed before an answer although the client waited for one. */
  closedInputs: string[];
  statuses: Record<string, number>;
  timeMs: number;
  loadAverage: number[];
}

interface Outcome {
  status: number;
  body: string;
  closedEarly: boolean;
}

function exchange(port: number, c: HttpCase, timeoutMs: number): Promise<Outcome | 'hang'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (v: Outcome | 'hang') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(c.expectAnswer ? 'hang' : { status: 0, body: '', closedEarly: true }), c.expectAnswer ? timeoutMs : 300);
    socket.on('error', () => finish({ status: 0, body: '', closedEarly: true }));
    socket.on('data', (d) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
      if (!m) return;
      const length = /content-length:\s*(\d+)/i.exec(m[2]!);
      const bodyStart = m[0].length;
      if (length && c.method !== 'HEAD' && text.length - bodyStart < Number(length[1])) return;
      finish({ status: Number(m[1]), body: text.slice(bodyStart, bodyStart + Number(length?.[1] ?? 0)), closedEarly: false });
    });
    socket.on('close', () => finish({ status: 0, body: '', closedEarly: true }));
    socket.on('connect', async () => {
      for (const [i, chunk] of c.chunks.entries()) {
        if (done) return;
        if (i > 0 && c.delayMs) await new Promise((r) => setTimeout(r, c.delayMs));
        if (!socket.writable) return;
        socket.write(chunk);
      }
      if (!c.expectAnswer) setTimeout(() => finish({ status: 0, body: '', closedEarly: true }), 50);
    });
  });
}

/** The server under test, started again whenever it exits. */
class ServerUnderTest {
  port = 0;
  exits = 0;
  /** Resolves once the server listens; replaced while it is being started again. */
  ready: Promise<void> = Promise.resolve();
  private child: ChildProcess | undefined;
  private stopping = false;
  constructor(private readonly keel: string, private readonly endpoints: string[], private readonly serveArgs: string[], private readonly onExit: () => void) {}

  async start(): Promise<void> {
    const child = spawn(this.keel, ['lock', 'serve', '--endpoints', this.endpoints.join(','), '--listen', '127.0.0.1:0', ...this.serveArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let err = '';
    child.stderr!.on('data', (c) => (err = (err + c).slice(-4000)));
    this.port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c) => {
        out += c;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`keel lock serve exited ${code} at start: ${err}`)));
    });
    child.once('exit', () => {
      if (this.stopping) return;
      this.exits++;
      this.onExit();
      this.ready = this.start();
      // Workers see a failed restart when they await `ready`; this only keeps it from being unhandled.
      this.ready.catch(() => undefined);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.ready.catch(() => undefined);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** Runs the fuzz and returns its figures; never throws for what the server does, only when it cannot start. */
export async function runHttpFuzz(options: HttpFuzzOptions): Promise<HttpFuzzReport> {
  const t0 = Date.now();
  const log = options.log ?? (() => undefined);
  const etcd: EtcdCluster | undefined = options.endpoints ? undefined : await startEtcd();
  const endpoints = options.endpoints ?? etcd!.endpoints;
  const next = caseGenerator(options.seed);
  const inFlight = new Set<string>();
  const report: HttpFuzzReport = { seed: options.seed, requests: 0, serverExits: 0, fiveXx: 0, fiveXxOnMistakes: 0, fiveXxInputs: [], exitInputs: [], hangs: 0, hangInputs: [], closedInputs: [], statuses: {}, timeMs: 0, loadAverage: [] };
  const serveArgs = options.serveArgs ?? ['--base', '/fleetlock', '--slots', '2', '--max-groups', '10'];
  const server = new ServerUnderTest(options.keel ?? join(process.cwd(), 'bin/keel'), endpoints, serveArgs, () => report.exitInputs.push(...[...inFlight].slice(0, 10)));
  await server.start();
  const deadline = t0 + (options.timeLimitMs ?? 600_000);
  let sent = 0;
  const worker = async () => {
    while (sent < options.count && Date.now() < deadline) {
      sent++;
      const c = next();
      await server.ready;
      inFlight.add(c.label);
      const outcome = await exchange(server.port, c, options.answerTimeoutMs ?? 15_000);
      inFlight.delete(c.label);
      report.requests++;
      if (outcome === 'hang') {
        report.hangs++;
        if (report.hangInputs.length < 20) report.hangInputs.push(c.label);
        continue;
      }
      const key = outcome.closedEarly ? (c.expectAnswer ? 'closed without answer' : 'client left') : String(outcome.status);
      report.statuses[key] = (report.statuses[key] ?? 0) + 1;
      if (key === 'closed without answer' && report.closedInputs.length < 20) report.closedInputs.push(c.label);
      if (outcome.status >= 500) {
        report.fiveXx++;
        if (c.mistake) report.fiveXxOnMistakes++;
        if (report.fiveXxInputs.length < 20) report.fiveXxInputs.push(`${outcome.status} ${outcome.body.slice(0, 120)} <- ${c.label}${c.mistake ? ' (client mistake)' : ''}`);
      }
      if (report.requests % 500 === 0) log(`http fuzz: ${report.requests} requests, ${server.exits} server exits, ${report.fiveXx} 5xx`);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  } finally {
    report.serverExits = server.exits;
    await server.stop();
    await etcd?.stop();
  }
  report.timeMs = Date.now() - t0;
  report.loadAverage = loadavg().map((l) => Math.round(l * 100) / 100);
  return report;
}

/** The report as the lines `make fuzz` prints. */
export function formatReport(r: HttpFuzzReport): string {
  const lines = [
    `http fuzz (seed ${r.seed}): ${r.requests} requests tried in ${(r.timeMs / 1000).toFixed(1)} s (load average ${r.loadAverage.join(' ')})`,
    `server exits: ${r.serverExits}`,
    `5xx answers: ${r.fiveXx} (to client mistakes: ${r.fiveXxOnMistakes})`,
    `hangs (no answer in time): ${r.hangs}`,
    `answers: ${Object.entries(r.statuses).sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    ...r.fiveXxInputs.map((i) => `  5xx: ${i}`),
    ...r.exitInputs.map((i) => `  in flight at a server exit: ${i}`),
    ...r.hangInputs.map((i) => `  hang: ${i}`),
    ...r.closedInputs.map((i) => `  closed without an answer: ${i}`),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      'time-limit': { type: 'string', default: '600' },
      concurrency: { type: 'string', default: '8' },
      endpoints: { type: 'string' },
      keel: { type: 'string' },
      'serve-args': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const whole = (name: string, text: string) => {
    if (!/^\d{1,9}$/.test(text)) throw new Error(`--${name}: expected a whole number, found '${text}'`);
    return Number(text);
  };
  const report = await runHttpFuzz({
    count: whole('count', values.count!),
    seed: whole('seed', values.seed!),
    timeLimitMs: whole('time-limit', values['time-limit']!) * 1000,
    concurrency: Math.max(1, whole('concurrency', values.concurrency!)),
    ...(values.endpoints ? { endpoints: values.endpoints.split(',') } : {}),
    ...(values.keel ? { keel: values.keel } : {}),
    ...(values['serve-args'] !== undefined ? { serveArgs: values['serve-args'].split(' ').filter(Boolean) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  return report.serverExits === 0 && report.fiveXxOnMistakes === 0 && report.hangs === 0 ? 0 : 1;
}

// Run as a script (the esbuild bundle), not when a test imports the module.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`http fuzz: ${error.message}\n`);
      process.exit(2);
    },
  );
}
