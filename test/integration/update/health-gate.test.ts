import { afterAll, beforeAll, expect, test } from 'vitest';
import { bootSystemd, type BootedSystemd } from '../../harness/systemd-ns.js';
import { repoRoot } from '../../harness/qemu.js';

// `keel update health-check` inside a real systemd (PID 1 in namespaces): a clean boot
// passes; a failed unit, or a failing check in /etc/keel/health.d, fails the gate and the
// verdict lands in /run/keel/health.json for the agent.
let sys: BootedSystemd;
const keel = ['/usr/local/bin/node', '/opt/keel/bin/keel.mjs'];

beforeAll(async () => {
  sys = await bootSystemd({
    name: 'health-gate',
    binds: [{ source: repoRoot, target: '/opt/keel', readOnly: true }],
    files: { '/etc/keel/health.d/10-ok': '#!/bin/sh\necho fine\n' },
  });
  await sys.exec(['chmod', '755', '/etc/keel/health.d/10-ok']);
});
afterAll(async () => {
  await sys?.stop();
});

test('a clean boot passes the gate and the verdict is written for the agent', async () => {
  const run = await sys.exec([...keel, 'update', 'health-check', '--json'], { reject: false });
  const verdict = JSON.parse(run.stdout);
  expect(run.exitCode, `${run.stderr}\n${sys.systemState}`).toBe(0);
  expect(verdict.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
    ['no failed units', true],
    ['10-ok', true],
  ]);
  expect(JSON.parse((await sys.exec(['cat', '/run/keel/health.json'])).stdout).ok).toBe(true);
});

test('a failed unit fails the gate, naming the unit', async () => {
  await sys.exec(['systemd-run', '--unit=keel-e2e-broken', '--service-type=oneshot', '/bin/false'], { reject: false });
  const run = await sys.exec([...keel, 'update', 'health-check'], { reject: false });
  expect(run.exitCode).toBe(1);
  expect(run.stdout).toMatch(/FAIL no failed units: failed: keel-e2e-broken\.service/);
  expect(run.stderr).toMatch(/health gate failed: this boot is not blessed/);
  expect(JSON.parse((await sys.exec(['cat', '/run/keel/health.json'])).stdout).ok).toBe(false);
  await sys.exec(['systemctl', 'reset-failed', 'keel-e2e-broken.service']);
});

test('a failing check in /etc/keel/health.d fails the gate; /etc masks /usr/lib with an empty file', async () => {
  await sys.exec(['sh', '-c', 'mkdir -p /usr/lib/keel/health.d && printf "#!/bin/sh\\necho broken >&2\\nexit 3\\n" > /usr/lib/keel/health.d/50-broken && chmod 755 /usr/lib/keel/health.d/50-broken']);
  const failing = await sys.exec([...keel, 'update', 'health-check'], { reject: false });
  expect(failing.exitCode).toBe(1);
  expect(failing.stdout).toMatch(/FAIL 50-broken: exit 3: broken/);
  await sys.exec(['sh', '-c', ': > /etc/keel/health.d/50-broken']);
  const masked = await sys.exec([...keel, 'update', 'health-check'], { reject: false });
  expect(masked.exitCode, masked.stdout).toBe(0);
});
