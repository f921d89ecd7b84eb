// The container supervisor's benchmark (run by bench/containers.bench.sh): inside one systemd
// guest (PID 1 in namespaces, podman with runc, the busybox test image), in the same run:
//   spec → running latency for one container, and 50 containers from nothing, with
//   keel-supervisor (spec files written) beside the same containers as hand-written units
//   started with `systemctl start`, and beside plain `podman run -d`.
import { writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startGuest, testImage, type Guest } from '../test/integration/containers/guest.js';
import { parseSpec } from '../src/containers/spec-schema.js';
import { defaultRenderOptions, unitFromSpec } from '../src/containers/unit-from-spec.js';
import { systemdVersionOf } from '../src/containers/systemd-units.js';

const count = Number(process.env.KEEL_BENCH_CONTAINERS ?? 50);
const rounds = 3;
const specYaml = (name: string) => `name: ${name}\nimage: ${testImage}\ncommand: [sleep, '3600']\n`;
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Resolves when every unit is active, from PropertiesChanged, with a slow poll as a safety net. */
async function allActive(g: Guest, units: string[], timeoutMs = 300_000): Promise<void> {
  const pending = new Set(units);
  await new Promise<void>((resolve, reject) => {
    const check = () => pending.size === 0 && (cleanup(), resolve());
    const onUnit = (unit: string, props: Record<string, unknown>) => {
      if (props.ActiveState === 'active') pending.delete(unit);
      check();
    };
    const poll = setInterval(async () => {
      for (const u of await g.bus.listUnits(units)) if (u.activeState === 'active') pending.delete(u.name);
      check();
    }, 500);
    const timer = setTimeout(() => (cleanup(), reject(new Error(`${pending.size} units not active after ${timeoutMs} ms: ${[...pending].slice(0, 5).join(' ')}`))), timeoutMs);
    const cleanup = () => (clearInterval(poll), clearTimeout(timer), g.bus.off('unit', onUnit));
    g.bus.on('unit', onUnit);
  });
}

async function allGone(g: Guest, units: string[]): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await g.bus.listUnits(units)).filter((u) => u.activeState !== 'inactive' && u.loadState !== 'not-found').length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('units did not stop');
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await f();
  return (performance.now() - t) / 1000;
}

async function keelRun(g: Guest, ns: string[]): Promise<number> {
  const units = ns.map((n) => `keel-container-${n}.service`);
  const s = await timed(async () => {
    await Promise.all(ns.map((n) => g.writeSpec(n, specYaml(n))));
    await allActive(g, units);
  });
  await Promise.all(ns.map((n) => g.removeSpec(n)));
  await allGone(g, units);
  return s;
}

async function systemctlRun(g: Guest, ns: string[]): Promise<number> {
  const dir = join(g.sys.root, 'etc/systemd/system');
  const units = ns.map((n) => `hand-${n}.service`);
  const s = await timed(async () => {
    for (const n of ns) await writeFile(join(dir, `hand-${n}.service`), unitFromSpec(parseSpec(specYaml(n)).spec!, defaultRenderOptions));
    await g.sys.exec(['systemctl', 'daemon-reload']);
    await g.sys.exec(['systemctl', 'start', ...units]);
    await allActive(g, units);
  });
  await g.sys.exec(['systemctl', 'stop', ...units]);
  for (const u of units) await rm(join(dir, u), { force: true });
  await g.sys.exec(['systemctl', 'daemon-reload']);
  return s;
}

async function podmanRun(g: Guest, ns: string[]): Promise<number> {
  const loop = ns.map((n) => `podman run -d --name ${n} --init ${testImage} sleep 3600 >/dev/null`).join(' && ');
  const s = await timed(async () => void (await g.sys.exec(['sh', '-c', loop], { timeoutMs: 600_000 })));
  await g.sys.exec(['sh', '-c', `podman rm -f -t 0 ${ns.join(' ')} >/dev/null`], { timeoutMs: 600_000 });
  return s;
}

const g = await startGuest('bench');
try {
  await mkdir(join(g.sys.root, 'etc/systemd/system'), { recursive: true });
  // Warm up: the first container loads the image from its archive; not part of any figure.
  await keelRun(g, ['warm']);
  const one = { keel: [] as number[], systemctl: [] as number[], podman: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    one.keel.push(await keelRun(g, [`one${r}`]));
    one.systemctl.push(await systemctlRun(g, [`one${r}`]));
    one.podman.push(await podmanRun(g, [`one${r}`]));
  }
  const many = { keel: await keelRun(g, names('k', count)), systemctl: await systemctlRun(g, names('s', count)), podman: await podmanRun(g, names('p', count)) };
  const row = (label: string, s: number) => console.log(`  ${label.padEnd(56)} ${s.toFixed(2).padStart(7)} s`);
  console.log(`containers: spec → running, one container (median of ${rounds}; systemd ${(await systemdVersionOf(g.bus))} in namespaces, podman + runc)`);
  row('keel: spec file → keel-supervisor → active', median(one.keel));
  row('hand-written unit: daemon-reload + systemctl start', median(one.systemctl));
  row('podman run -d', median(one.podman));
  console.log(`containers: ${count} containers from nothing`);
  row(`keel: ${count} spec files → keel-supervisor → all active`, many.keel);
  row(`hand-written units: daemon-reload + systemctl start`, many.systemctl);
  row(`podman run -d, one after another`, many.podman);
} finally {
  await g.stop();
}
