// Bundles a TypeScript bench driver (with the same etcd3 .proto plugin as the keel bundle)
// into .cache/bench/ and runs it, passing a stop on so the driver can kill what it started.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { etcd3ProtoPlugin } from '../../scripts/esbuild-etcd3-proto.mjs';

export async function runBundled(entry, name) {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = `${root}.cache/bench/${name}.mjs`;
  mkdirSync(`${root}.cache/bench`, { recursive: true });
  await build({
    entryPoints: [`${root}${entry}`],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: out,
    logLevel: 'warning',
    // For bench/lib/cpu-profile-summary.mjs: a --cpu-prof profile maps back to src/ and packages.
    sourcemap: 'linked',
    plugins: [etcd3ProtoPlugin],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const child = spawn(process.execPath, [out], { stdio: 'inherit', cwd: root });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => process.exit(code ?? 1));
}
