import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bootSystemd, removeStaleGuests, type BootedSystemd } from '../harness/systemd-ns.js';
import { repoRoot } from '../harness/rootfs.js';

// The harness itself: a real systemd as PID 1 in namespaces, reachable from the host.
describe('systemd in namespaces', () => {
  let sys: BootedSystemd;
  beforeAll(async () => {
    sys = await bootSystemd({
      name: 'harness',
      binds: [{ source: repoRoot, target: '/opt/keel', readOnly: true }],
      files: { '/etc/keel/marker': 'hello\n' },
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  test('boots to running with systemd as PID 1', async () => {
    expect(sys.systemState).toBe('running');
    const comm = await sys.exec(['cat', '/proc/1/comm']);
    expect(comm.stdout.trim()).toBe('systemd');
    const host = await sys.exec(['hostname']);
    expect(host.stdout.trim()).toBe('harness');
  });

  test('exposes the bus socket, binds and files on the host side', async () => {
    expect(existsSync(sys.busAddress.replace('unix:path=', ''))).toBe(true);
    const marker = await sys.exec(['cat', '/etc/keel/marker']);
    expect(marker.stdout).toBe('hello\n');
    const pkg = await sys.exec(['test', '-f', '/opt/keel/package.json']);
    expect(pkg.exitCode).toBe(0);
    const ro = await sys.exec(['touch', '/opt/keel/nope'], { reject: false });
    expect(ro.exitCode).not.toBe(0);
    const node = await sys.exec(['node', '-e', 'console.log(process.version)']);
    expect(node.stdout.trim()).toBe(process.version);
  });

  test('runs podman with runc inside', async () => {
    const info = await sys.exec(['podman', 'info', '--format', '{{.Store.GraphDriverName}}']);
    expect(info.stdout.trim()).toBe('overlay');
  });

  test('stop kills the guest and removes everything', async () => {
    const other = await bootSystemd({ name: 'short-lived' });
    const { root, pid } = other;
    await other.stop();
    const status = await import("node:fs/promises").then((f) => f.readFile(`/proc/${pid}/status`, "utf8")).catch(() => "gone");
    expect(status).toBe("gone");
    expect(existsSync(root)).toBe(false);
    await other.stop();
  });

  test('leftovers of a guest whose test process died are removed by the next boot', async () => {
    const orphan = await bootSystemd({ name: 'orphan' });
    const dir = path.dirname(orphan.root);
    // As if the test process had been killed: the guest dies, nobody calls stop().
    process.kill(orphan.pid, 'SIGKILL');
    for (let i = 0; i < 100 && existsSync(`/proc/${orphan.pid}/status`); i++) await new Promise((r) => setTimeout(r, 20));
    const old = new Date(Date.now() - 120_000);
    await fs.utimes(dir, old, old);
    await removeStaleGuests();
    expect(existsSync(dir)).toBe(false);
    const mounts = await fs.readFile('/proc/mounts', 'utf8');
    expect(mounts).not.toContain(dir);
    // The live guest of this file is untouched.
    expect((await sys.exec(['systemctl', 'is-system-running'])).stdout.trim()).toBe('running');
    await orphan.stop();
  });
});
