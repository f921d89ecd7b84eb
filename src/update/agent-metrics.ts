/**
 * The update agent's own /metrics, when update.conf sets METRICS_LISTEN (ADDRESS:PORT, for
 * example 127.0.0.1:9101): how long its checks, downloads, lock waits, pre-reboot checks and
 * reboot commands take (`keel_agent_<operation>_duration_seconds`) and how often they fail, its state and since when, and the booted
 * version. It observes the agent from outside: the host env is wrapped (a Proxy, since the
 * env is a class instance) and every call passes through unchanged, so metrics can never
 * change what the agent does. Off when the key is unset.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KeelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AgentEnv } from './agent-tick.js';
import type { AgentState } from './agent-state.js';
import { configSources, mergeLayers, parseUpdateConf } from './update-config.js';

/** The env calls that are timed, with their metric label. */
const timed = { check: 'check', download: 'download', takeLock: 'lock', preReboot: 'pre_reboot', reboot: 'reboot' } as const;

/** `ADDRESS:PORT` of METRICS_LISTEN; 'invalid-input' naming the key otherwise. */
export function parseMetricsListen(text: string, file: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : NaN;
  const hostOk = m?.[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?$/.test(host);
  if (!m || !hostOk || port > 65535) throw new KeelError('invalid-input', `${file}: METRICS_LISTEN: expected ADDRESS:PORT (e.g. 127.0.0.1:9101), found '${text}'; the agent does not start`);
  return { host, port };
}

/** METRICS_LISTEN from the update.conf layers under `root`, with the file it came from. */
async function metricsListen(root: string): Promise<{ value: string; file: string } | undefined> {
  const layers = [];
  for (const source of configSources) {
    const file = join(root, source);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) layers.push({ file, values: parseUpdateConf(text) });
  }
  const { values, sources } = mergeLayers(layers);
  return values.METRICS_LISTEN ? { value: values.METRICS_LISTEN, file: sources.METRICS_LISTEN ?? 'update.conf' } : undefined;
}

/** The agent's registry and the env wrapper that feeds it. */
export function agentMetrics<E extends AgentEnv>(env: E): { registry: Registry; env: E } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // One histogram an operation (keel_agent_check_duration_seconds…): each has its own scale.
  const durations = Object.fromEntries(
    Object.values(timed).map((op) => [op, new Histogram({ name: `keel_agent_${op}_duration_seconds`, help: `How long the update agent's ${op.replace('_', '-')} operations took, failed ones included.`, buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600], registers: [registry] })]),
  ) as Record<(typeof timed)[keyof typeof timed], Histogram>;
  const failures = new Counter({ name: 'keel_agent_operation_failures_total', help: 'Operations of the update agent that failed (threw).', labelNames: ['operation'], registers: [registry] });
  const state = new Gauge({ name: 'keel_agent_state', help: "The update agent's state: 1 for the present one.", labelNames: ['state'], registers: [registry] });
  const since = new Gauge({ name: 'keel_agent_state_since_timestamp_seconds', help: 'When the update agent entered its present state (Unix time).', registers: [registry] });
  const booted = new Gauge({ name: 'keel_agent_booted_info', help: 'The booted version and slot (value 1).', labelNames: ['version', 'slot'], registers: [registry] });
  const errors = new Counter({ name: 'keel_agent_errors_total', help: 'Errors the update agent reported (each also in keel update status).', registers: [registry] });
  for (const op of Object.values(timed)) failures.inc({ operation: op }, 0);
  const wrap = (name: keyof typeof timed, fn: (...args: unknown[]) => Promise<unknown>) => async (...args: unknown[]) => {
    const end = durations[timed[name]].startTimer();
    try {
      return await fn(...args);
    } catch (error) {
      failures.inc({ operation: timed[name] });
      throw error;
    } finally {
      end();
    }
  };
  const onState = (s: AgentState) => {
    state.reset();
    state.set({ state: s.kind }, 1);
    since.set(Date.now() / 1000);
    if ('booted' in s) (booted.reset(), booted.set({ version: s.booted.version, slot: s.booted.slot }, 1));
  };
  const wrapped = new Proxy(env, {
    get(target, prop) {
      // Read with the target as receiver: the env's own getters and private fields stay its own.
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target) as (...a: unknown[]) => Promise<unknown>;
      if (prop in timed) return wrap(prop as keyof typeof timed, bound);
      if (prop === 'stateChanged') return (s: AgentState) => (onState(s), bound(s));
      if (prop === 'report') return (fields: { lastError?: string | null }) => (typeof fields.lastError === 'string' && errors.inc(), bound(fields));
      return bound;
    },
  });
  return { registry, env: wrapped };
}

/** Serves `registry` at /metrics on `host:port`; everything else is 404. */
async function serveMetrics(registry: Registry, host: string, port: number, log: Logger): Promise<Server> {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
    req.resume();
    if ((req.url ?? '').split('?')[0] !== '/metrics') return reply(404, 'not found: the update agent serves only /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'expected GET\n');
    registry.metrics().then((text) => reply(200, text, registry.contentType), (error: Error) => reply(500, `metrics failed: ${error.message}\n`));
  });
  // A scraper sends a few hundred bytes: whatever the parser refuses is answered 400 and closed.
  server.maxConnections = 100;
  server.on('clientError', (_error, socket) => (socket.writable ? socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n') : socket.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.on('error', (error) => log.warning(`update agent metrics: ${error.message}`));
  return server;
}

/**
 * Wraps `env` with metrics and serves them when METRICS_LISTEN is set under `root`;
 * otherwise returns `env` as it is. A port that cannot be taken is a warning, not a stop:
 * updates matter more than their metrics.
 */
export async function startAgentMetrics<E extends AgentEnv>(root: string, env: E, log: Logger): Promise<{ env: E; url?: string; close(): Promise<void> }> {
  const listen = await metricsListen(root);
  if (!listen) return { env, close: async () => undefined };
  const { host, port } = parseMetricsListen(listen.value, listen.file);
  const { registry, env: wrapped } = agentMetrics(env);
  let server: Server;
  try {
    server = await serveMetrics(registry, host, port, log);
  } catch (error) {
    log.warning(`update agent metrics: cannot listen on ${host}:${port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); running without /metrics`);
    return { env, close: async () => undefined };
  }
  const address = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}/metrics`;
  log.info(`update agent metrics on ${url}`);
  return { env: wrapped, url, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}
