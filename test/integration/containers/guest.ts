/**
 * What the container integration tests share: a busybox image made here (busybox-static →
 * rootfs → tar → podman import → docker archive; no registry), and a systemd-in-namespaces
 * guest with podman configured for this host (runc: crun fails on its hybrid cgroups), the
 * image archive in /var/lib/keel/images, and keel-supervisor.service running keel from the
 * work tree. The supervisor talks to the guest's own bus and podman; the test watches from
 * the host through the same bus.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootSystemd, type BootedSystemd } from '../../harness/systemd-ns.js';
import { repoRoot } from '../../harness/rootfs.js';
import { SystemdBus } from '../../../src/host/systemd-bus.js';
import { unitStateOf, type UnitState } from '../../../src/containers/systemd-units.js';

export const testImage = 'localhost/busybox:test';

/** containers.conf for podman inside the guest on this host kind. */
export const containersConf = `[containers]
netns = "none"
pids_limit = 0
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
events_logger = "file"
[network]
network_backend = "netavark"
`;

/**
 * keel's subordinate id range for containers (the image writes the same): `userns: auto`, the
 * spec default, takes each container's ids from the entries of the user `containers`.
 */
export const subordinateIds = 'containers:2147483647:2147483648\n';

/** Builds the busybox image as a docker archive at `dir/busybox.tar` with the host's podman (its own storage under `dir`). */
export async function buildBusyboxArchive(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  const applets = (await execa('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) await symlink('busybox', join(rootfs, 'bin', a)).catch(() => undefined);
  await execa('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  const conf = join(dir, 'containers.conf');
  await writeFile(conf, containersConf);
  const podman = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run')];
  const env = { CONTAINERS_CONF: conf };
  await execa('podman', [...podman, 'import', '--quiet', join(dir, 'rootfs.tar'), testImage], { env });
  const archive = join(dir, 'images', 'busybox.tar');
  await mkdir(join(dir, 'images'), { recursive: true });
  await execa('podman', [...podman, 'save', '--quiet', '--format', 'docker-archive', '-o', archive, testImage], { env });
  await execa('podman', [...podman, 'system', 'reset', '--force'], { env, reject: false });
  return archive;
}

export interface Guest {
  sys: BootedSystemd;
  /** The test's own connection to the guest's systemd (it follows the guest's bus when a test restarts dbus). */
  bus: SystemdBus;
  specDir: string;
  /** Writes a spec file into the guest's /etc/keel/containers. */
  writeSpec(name: string, yaml: string): Promise<void>;
  removeSpec(name: string): Promise<void>;
  state(name: string): Promise<UnitState>;
  /** Polls until `check` returns a truthy value; fails with `what`, the supervisor's log and the guest's journal. */
  until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  supervisorLog(): Promise<string>;
  podman(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Boots the guest and starts keel-supervisor in it; always `stop()` it. */
export async function startGuest(name: string, options: { supervisorYaml?: string } = {}): Promise<Guest> {
  const work = await mkdtemp(join(tmpdir(), 'keel-containers-'));
  const archive = await buildBusyboxArchive(work);
  if (!existsSync(join(repoRoot, 'bin/keel.mjs'))) throw new Error('bin/keel.mjs is missing: run `node scripts/build.mjs` (make build) first');
  const files: Record<string, string> = {
    '/etc/containers/containers.conf': containersConf,
    '/etc/subuid': subordinateIds,
    '/etc/subgid': subordinateIds,
    '/etc/systemd/system/keel-supervisor.service': `[Unit]\nDescription=keel container supervisor (test)\nAfter=dbus.service\n[Service]\nType=exec\nExecStart=/usr/local/bin/node /opt/keel/bin/keel.mjs containers supervise --rescan-seconds 5\nKillMode=process\nEnvironment=KEEL_DEBUG=1\n`,
  };
  if (options.supervisorYaml) files['/etc/keel/supervisor.yaml'] = options.supervisorYaml;
  const sys = await bootSystemd({
    name,
    files,
    binds: [
      { source: repoRoot, target: '/opt/keel', readOnly: true },
      { source: join(work, 'images'), target: '/var/lib/keel/images', readOnly: true },
    ],
  });
  let bus: SystemdBus | undefined;
  try {
    bus = await SystemdBus.connect({ address: sys.busAddress });
    const client = bus;
    const specDir = join(sys.root, 'etc/keel/containers');
    await mkdir(specDir, { recursive: true });
    await sys.exec(['systemctl', 'start', 'keel-supervisor.service']);
    const g: Guest = {
      sys,
      bus: client,
      specDir,
      writeSpec: async (n, yaml) => {
        // Write then rename, as an editor or cloud-config would: the watcher never sees half a file.
        await writeFile(join(specDir, `.${n}.tmp`), yaml);
        await execa('mv', [join(specDir, `.${n}.tmp`), join(specDir, `${n}.yaml`)]);
      },
      removeSpec: (n) => unlink(join(specDir, `${n}.yaml`)),
      state: (n) => unitStateOf(client, `keel-container-${n}.service`),
      until: async (what, check, timeoutMs = 60_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const v = await check().catch(() => undefined);
          if (v) return v;
          if (Date.now() > deadline) throw new Error(`${what}: not true after ${timeoutMs} ms\n--- supervisor ---\n${await g.supervisorLog()}\n${await sys.logs()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      supervisorLog: async () => (await sys.exec(['journalctl', '-u', 'keel-supervisor.service', '-o', 'cat', '--no-pager'], { reject: false })).stdout,
      podman: (args) => sys.exec(['podman', ...args], { reject: false, timeoutMs: 60_000 }),
      stop: async () => {
        await client.close();
        await sys.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
    return g;
  } catch (error) {
    await bus?.close();
    await sys.stop();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

