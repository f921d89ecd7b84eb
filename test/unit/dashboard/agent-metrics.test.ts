// The update agent's own /metrics (src/update/agent-metrics.ts): the env wrapper times and
// counts each operation without changing its result, the state and booted version follow
// the agent, METRICS_LISTEN from update.conf starts a server whose text parses back, and
// without the key the env is returned untouched.
import { afterEach, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentMetrics, parseMetricsListen, startAgentMetrics } from '../../../src/update/agent-metrics.js';
import type { AgentEnv } from '../../../src/update/agent-tick.js';
import { createLogger } from '../../../src/log.js';
import { family, parsePrometheus } from './prometheus-text.js';

const booted = { slot: 'a' as const, version: '1.0.0' };
function fakeEnv() {
  const calls: string[] = [];
  const env = {
    check: async () => (calls.push('check'), { kind: 'none' }),
    download: async () => {
      calls.push('download');
      throw new Error('payload hash mismatch');
    },
    stateChanged: async (s: { kind: string }) => void calls.push(`state ${s.kind}`),
    report: async (f: { lastError?: string | null }) => void calls.push(`report ${f.lastError}`),
    closeLock: async () => undefined,
  };
  return { env: env as unknown as AgentEnv & { closeLock(): Promise<void> }, calls };
}
const sample = (f: ReturnType<typeof family>, labels: Record<string, string>) => f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function rootWith(conf: string): string {
  const root = mkdtempSync(join(tmpdir(), 'keel-agent-metrics-'));
  roots.push(root);
  mkdirSync(join(root, 'etc/keel'), { recursive: true });
  writeFileSync(join(root, 'etc/keel/update.conf'), conf);
  return root;
}
const quiet = createLogger({ write: () => true } as unknown as NodeJS.WritableStream);

describe('agent metrics', () => {
  test('operations are timed and failures counted; results and errors pass through unchanged', async () => {
    const { env, calls } = fakeEnv();
    const { registry, env: wrapped } = agentMetrics(env);
    expect(await wrapped.check(booted)).toEqual({ kind: 'none' });
    await expect(wrapped.download(booted, {} as never)).rejects.toThrow('payload hash mismatch');
    await wrapped.stateChanged!({ kind: 'steady', booted });
    await wrapped.report({ state: 'available', lastError: 'download failed' } as never);
    expect(calls).toEqual(['check', 'download', 'state steady', 'report download failed']);
    const families = parsePrometheus(await registry.metrics());
    for (const op of ['check', 'download', 'lock', 'pre_reboot', 'reboot']) expect(family(families, `keel_agent_${op}_duration_seconds`).type).toBe('HISTOGRAM');
    expect(family(families, 'keel_agent_check_duration_seconds').metrics[0]!.count).toBe('1');
    expect(family(families, 'keel_agent_download_duration_seconds').metrics[0]!.count).toBe('1');
    expect(family(families, 'keel_agent_reboot_duration_seconds').metrics[0]!.count).toBe('0');
    const failures = family(families, 'keel_agent_operation_failures_total');
    expect(failures.type).toBe('COUNTER');
    expect(Number(sample(failures, { operation: 'download' })!.value)).toBe(1);
    expect(Number(sample(failures, { operation: 'check' })!.value)).toBe(0);
    expect(family(families, 'keel_agent_state').metrics).toEqual([{ labels: { state: 'steady' }, value: '1' }]);
    expect(family(families, 'keel_agent_booted_info').metrics).toEqual([{ labels: { version: '1.0.0', slot: 'a' }, value: '1' }]);
    expect(family(families, 'keel_agent_errors_total').metrics[0]!.value).toBe('1');
    expect(family(families, 'process_cpu_user_seconds_total').type).toBe('COUNTER');
  });

  test('METRICS_LISTEN serves /metrics, 404 elsewhere; without it the env is untouched', async () => {
    const { env } = fakeEnv();
    const started = await startAgentMetrics(rootWith('METRICS_LISTEN=127.0.0.1:0\n'), env, quiet);
    try {
      expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      await started.env.check(booted);
      const families = parsePrometheus(await (await fetch(started.url!)).text());
      expect(family(families, 'keel_agent_check_duration_seconds').metrics[0]!.count).toBe('1');
      expect((await fetch(started.url!.replace('/metrics', '/other'))).status).toBe(404);
      expect((await fetch(started.url!, { method: 'POST' })).status).toBe(405);
    } finally {
      await started.close();
    }
    const off = await startAgentMetrics(rootWith('GROUP=web\n'), env, quiet);
    expect(off.env).toBe(env);
    expect(off.url).toBeUndefined();
  });

  test.each(['9101', 'localhost', '127.0.0.1:99999', '[::1:9101', 'a b:1'])('METRICS_LISTEN=%s is refused naming the key', (value) => {
    expect(() => parseMetricsListen(value, '/etc/keel/update.conf')).toThrow(/update\.conf: METRICS_LISTEN: expected ADDRESS:PORT/);
  });
  test.each([['127.0.0.1:9101', '127.0.0.1', 9101], ['[::1]:9101', '::1', 9101], ['node-1.local:80', 'node-1.local', 80]])('METRICS_LISTEN=%s', (value, host, port) => {
    expect(parseMetricsListen(value, 'f')).toEqual({ host, port });
  });
});
