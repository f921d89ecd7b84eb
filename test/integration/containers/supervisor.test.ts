// The supervisor against real systemd (PID 1 in namespaces), real podman with runc and a
// busybox image loaded from an archive in /var/lib/keel/images. One guest, scenarios in order.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGuest, testImage, type Guest } from './guest.js';

let g: Guest;
beforeAll(async () => {
  g = await startGuest('containers');
});
afterAll(async () => {
  await g?.stop();
});

const unitFile = (name: string) => join(g.sys.root, 'run/systemd/system', `keel-container-${name}.service`);

describe('keel-supervisor in a systemd guest', () => {
  test('a new spec: image loaded from the archive, unit written, container running', async () => {
    expect((await g.podman(['image', 'exists', testImage])).exitCode).toBe(1);
    await g.writeSpec('web', `name: web\nimage: ${testImage}\ncommand: [sh, -c, 'echo "hello $GREETING"; exec sleep 3600']\nenvironment: {GREETING: one}\nresources: {memory: 64M, cpus: 0.5, pids: 50}\n`);
    const s = await g.until('web active', async () => { const s = await g.state('web'); return s.activeState === 'active' && s; });
    expect(s.subState).toBe('running');
    expect((await g.podman(['image', 'exists', testImage])).exitCode).toBe(0);
    expect(await g.supervisorLog()).toContain(`ensure image ${testImage} (for web): loaded`);
    const ps = await g.podman(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/^web Up/m);
    // Resource limits are set as unit properties (enforced only in a VM; see DESIGN.md).
    expect(await g.bus.serviceProperty('keel-container-web.service', 'MemoryMax')).toBe(64n * 1024n * 1024n);
    expect(await g.bus.serviceProperty('keel-container-web.service', 'CPUQuotaPerSecUSec')).toBe(500_000n);
    expect(await g.bus.serviceProperty('keel-container-web.service', 'TasksMax')).toBe(50n);
    const journal = await g.sys.exec(['journalctl', '-u', 'keel-container-web.service', '-o', 'cat', '--no-pager']);
    expect(journal.stdout).toContain('hello one');
  });
});
