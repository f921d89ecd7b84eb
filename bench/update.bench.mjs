#!/usr/bin/env node
// keel update: stream-verify-write throughput of a 512 MiB slot payload into a file-backed
// slot (`keel update install` from a directory repository: TUF metadata checks, SHA-256 and
// length while streaming, fsync, read-back verification) beside the plain pipeline
// `zstd -dc payload.zst | tee >(sha256sum) | dd of=slot conv=fsync` on the same payload, in
// the same run; then the agent's resident memory while idle (./bin/keel and build/keel).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(new URL('..', import.meta.url).pathname);
const keel = join(repoRoot, 'bin/keel');
const work = join(repoRoot, '.cache/bench-update');
const mib = Number(process.env.KEEL_BENCH_UPDATE_MIB ?? 512);
const rounds = 2;
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'bundle'), { recursive: true });

const sh = (script) => execFileSync('bash', ['-c', script], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const seconds = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};

// The payload: pseudo-random (incompressible, like an erofs image) bytes.
sh(`head -c ${mib}M /dev/urandom > bundle/slot.img && echo kernel > bundle/vmlinuz && echo initramfs > bundle/initramfs.img`);
writeFileSync(join(work, 'bundle/manifest.json'), JSON.stringify({ version: '2.0.0', artifacts: { slot: { path: 'slot.img' }, kernel: { path: 'vmlinuz' }, initramfs: { path: 'initramfs.img' } } }));
sh(`zstd -q -1 -T0 bundle/slot.img -o payload.zst`);
sh(`${keel} update keygen key >/dev/null && ${keel} update publish --key key --bundle bundle --repo repo --zstd-level 1 >/dev/null`);

const keelRuns = [];
const peerRuns = [];
for (let i = 0; i < rounds; i++) {
  rmSync(join(work, 'state'), { recursive: true, force: true });
  rmSync(join(work, 'slot.img'), { force: true });
  rmSync(join(work, 'peer.img'), { force: true });
  peerRuns.push(seconds(() => sh(`zstd -dc payload.zst | tee >(sha256sum > peer.sum) | dd of=peer.img bs=1M conv=fsync status=none; wait`)));
  keelRuns.push(seconds(() => sh(`${keel} update install --repo repo --target slot.img --trust key.pub --state state --root . >/dev/null`)));
}
if (sh('cmp slot.img bundle/slot.img && echo same').trim() !== 'same') throw new Error('keel wrote a different image');
const best = (xs) => Math.min(...xs);
const keelMibS = mib / best(keelRuns);
const peerMibS = mib / best(peerRuns);
console.log(`update install, ${mib} MiB payload into a file-backed slot (best of ${rounds}):`);
console.log(`  keel update install (verify metadata, hash+length while streaming, fsync, read back): ${keelMibS.toFixed(0)} MiB/s (${best(keelRuns).toFixed(2)} s)`);
console.log(`  zstd -dc | tee >(sha256sum) | dd conv=fsync (no verification against anything):    ${peerMibS.toFixed(0)} MiB/s (${best(peerRuns).toFixed(2)} s)`);
console.log(`  throughput ratio keel/peer: ${(keelMibS / peerMibS).toFixed(2)}`);

// Idle memory: the agent with no server configured settles into its check interval.
async function idleRss(command, args, label) {
  const root = join(work, `root-${label}`);
  mkdirSync(join(root, 'proc'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/keel'), { recursive: true });
  mkdirSync(join(root, 'run/keel'), { recursive: true });
  writeFileSync(join(root, 'proc/cmdline'), 'keel.slot=a\n');
  writeFileSync(join(root, 'usr/lib/keel/version'), '1.0.0\n');
  writeFileSync(join(root, 'run/keel/health.json'), JSON.stringify({ ok: true, at: new Date().toISOString(), checks: [] }));
  const child = spawn(command, [...args, 'update', 'agent', '--root', root], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 5000));
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  child.kill('SIGTERM');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  console.log(`  idle agent RSS (${label}): ${(kib / 1024).toFixed(1)} MiB`);
}
console.log('update agent, idle after 5 s:');
await idleRss(process.execPath, [join(repoRoot, 'bin/keel.mjs')], 'node bin/keel');
if (existsSync(join(repoRoot, 'build/keel'))) await idleRss(join(repoRoot, 'build/keel'), [], 'build/keel single executable');
rmSync(work, { recursive: true, force: true });
