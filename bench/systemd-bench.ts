// The systemd edge's benchmark (run by bench/systemd.bench.sh), all in one run:
//   the cached test rootfs lookup, systemd-in-namespaces boot to `running` (median of 5),
//   and a transient command's latency: keel's one long-lived SystemdBus connection, beside a
//   fresh connection per call (what coreos-cloudinit did), beside `systemd-run --wait`
//   (a process per call, as a shell script would) inside the same guest.
import { ensureRootfs } from '../test/harness/rootfs.js';
import { bootSystemd } from '../test/harness/systemd-ns.js';
import { SystemdBus } from '../src/host/systemd-bus.js';

const rounds = Number(process.env.KEEL_BENCH_ROUNDS ?? 30);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const rootfs = await ensureRootfs();
console.log(`test rootfs (cached) ready in ${ms(rootfs.elapsedMs)}: ${rootfs.path}`);

const boots: number[] = [];
for (let i = 0; i < 5; i++) {
  const sys = await bootSystemd({ name: `bench-boot-${i}` });
  boots.push(sys.bootMs);
  await sys.stop();
}
console.log(`systemd in namespaces, spawn → running: median ${ms(median(boots))} (min ${ms(Math.min(...boots))}, max ${ms(Math.max(...boots))}, n=5)`);

const sys = await bootSystemd({ name: 'bench' });
try {
  const bus = await SystemdBus.connect({ address: sys.busAddress });
  await bus.runTransient(['/bin/true']);
  // Interleaved, so load from other work on the machine falls on both alike.
  const kept: number[] = [];
  const fresh: number[] = [];
  for (let i = 0; i < rounds; i++) {
    kept.push(await timed(() => bus.runTransient(['/bin/true'])));
    fresh.push(await timed(async () => {
      const b = await SystemdBus.connect({ address: sys.busAddress });
      await b.runTransient(['/bin/true']);
      await b.close();
    }));
  }
  const starts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    starts.push(await timed(() => bus.startTransientUnit(`keel-bench-${i}.service`, { Type: 'simple', ExecStart: [['/bin/sleep', ['/bin/sleep', '600'], false]] })));
  }
  await bus.close();

  const systemdRun: number[] = [];
  for (let i = 0; i < rounds; i++) systemdRun.push(await timed(() => sys.exec(['systemd-run', '--wait', '--quiet', '/bin/true'])));

  console.log(`StartTransientUnit → active (long-running service), one connection: median ${ms(median(starts))}`);
  console.log(`transient /bin/true to exit status, n=${rounds} each (median):`);
  console.log(`  keel, one long-lived connection      ${ms(median(kept))}`);
  console.log(`  keel, a new connection per call      ${ms(median(fresh))}   (${(median(fresh) / median(kept)).toFixed(1)}x)`);
  console.log(`  systemd-run --wait (via nsenter)     ${ms(median(systemdRun))}   (${(median(systemdRun) / median(kept)).toFixed(1)}x)`);
} finally {
  await sys.stop();
}
