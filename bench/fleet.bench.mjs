#!/usr/bin/env node
// Fleet benchmark: bundles bench/fleet/driver.ts (with the same etcd3 .proto plugin as the
// keel bundle) and runs it; each roll gets its own three-member etcd cluster.
// Knobs (environment): FLEET_BENCH_AGENTS (10000), FLEET_BENCH_SLOTS (100),
// FLEET_BENCH_REBOOT_MS (1000), FLEET_BENCH_WORKERS (4), FLEET_BENCH_PEER_CAP_MS (2× ideal),
// FLEET_BENCH_ARRIVAL_MS (half the ideal roll: agents stage over it), FLEET_BENCH_ONLY (keel,poll,compete,brake,small,small-poll).
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { etcd3ProtoPlugin } from '../scripts/esbuild-etcd3-proto.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}.cache/bench/fleet-driver.mjs`;
mkdirSync(`${root}.cache/bench`, { recursive: true });
await build({
  entryPoints: [`${root}bench/fleet/driver.ts`],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: out,
  logLevel: 'warning',
  plugins: [etcd3ProtoPlugin],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const child = spawn(process.execPath, [out], { stdio: 'inherit', cwd: root });
// Pass a stop on to the driver, which kills the etcd members it started.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 1));
