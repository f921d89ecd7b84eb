#!/usr/bin/env node
// Reboot-lock benchmark: bundles bench/lock/driver.ts (with the same etcd3 .proto plugin
// as the keel bundle) and runs it against a real three-member etcd cluster it starts.
// Knobs (environment): LOCK_BENCH_WAITERS (100). Fleet rolls: bench/fleet.bench.mjs.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { etcd3ProtoPlugin } from '../scripts/esbuild-etcd3-proto.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}.cache/bench/lock-driver.mjs`;
mkdirSync(`${root}.cache/bench`, { recursive: true });
await build({
  entryPoints: [`${root}bench/lock/driver.ts`],
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
