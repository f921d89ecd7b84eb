// `./bin/keel update agent` with METRICS_LISTEN in update.conf, on a host kept as a
// directory tree (test/integration/update/boot-tree.ts) against a real HTTP repository:
// its /metrics, parsed back, shows the check and the download it made, the staged state
// and the booted version. REBOOT_STRATEGY=off keeps it staged, so it is stopped by SIGTERM.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { freePort } from '../../harness/etcd.js';
import { makeKey, publish, tempDir } from '../../unit/update/fixture.js';
import { bootOnce, makeHostTree } from '../update/boot-tree.js';
import { serveDirectory, type StaticServer } from '../update/static-server.js';
import { family, parsePrometheus, type Family } from '../../unit/dashboard/prometheus-text.js';

const keel = join(process.cwd(), 'bin/keel');
const key = makeKey();
let work: string;
let server: StaticServer;

beforeAll(async () => {
  work = await tempDir('keel-agent-metrics-');
  server = await serveDirectory(work);
  for (const v of ['1.0.0', '2.0.0']) await publish(join(work, 'repo'), work, key.signer, v);
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('the agent serves its own /metrics: check and download timed, state staged, booted 1.0.0', async () => {
  const root = join(work, 'root');
  const slots = join(work, 'slots');
  await mkdir(slots, { recursive: true });
  const port = await freePort();
  await makeHostTree(root, '1.0.0', {
    'usr/lib/keel/update-trust.pub': key.publicPem,
    'etc/machine-id': 'node-1\n',
    'etc/keel/update.conf': `REBOOT_STRATEGY=off\nSERVER=${server.url}/repo\nCHECK_INTERVAL=1h\nMETRICS_LISTEN=127.0.0.1:${port}\n`,
  });
  await writeFile(join(slots, 'slot-a.img'), 'slot a');
  expect(await bootOnce(root)).toMatchObject({ slot: 'a', version: '1.0.0' });
  // The boot's health verdict, as keel-health-check.service writes it before the agent goes on.
  expect((await execa(keel, ['update', 'health-check', '--root', root, '--no-systemd'], { reject: false })).exitCode).toBe(0);
  const agent = execa(keel, ['update', 'agent', '--root', root], { reject: false, env: { KEEL_UPDATE_TEST_EDGES: JSON.stringify({ slotDir: slots, rebootCommand: ['/bin/false'] }) } });
  let families: Family[] = [];
  try {
    const staged = () => family(families, 'keel_agent_state').metrics.some((m) => m.labels?.state === 'staged' && m.value === '1');
    for (let i = 0; i < 600 && !(families.length && staged()); i++) {
      if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}: ${(await agent).stderr}`);
      await new Promise((r) => setTimeout(r, 100));
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      if (text) families = parsePrometheus(text);
    }
    expect(staged(), JSON.stringify(family(families, 'keel_agent_state').metrics)).toBe(true);
    expect(Number(family(families, 'keel_agent_check_duration_seconds').metrics[0]!.count)).toBeGreaterThanOrEqual(1);
    expect(family(families, 'keel_agent_download_duration_seconds').metrics[0]!.count).toBe('1');
    expect(family(families, 'keel_agent_booted_info').metrics).toEqual([{ labels: { version: '1.0.0', slot: 'a' }, value: '1' }]);
    expect(family(families, 'keel_agent_operation_failures_total').metrics.every((m) => m.value === '0')).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
  } finally {
    agent.kill('SIGTERM');
    const run = await agent;
    if (!families.length || process.env.KEEL_DEBUG_TEST) console.error(run.stderr);
  }
});
