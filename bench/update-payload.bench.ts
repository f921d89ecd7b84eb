// Driver of bench/update-payload.bench.sh: builds four slots from copies of the OS tree with
// images/make-slot.sh (the base, and three releases changed from it), publishes each release
// with its zstd payload and a delta from the base (payload-maker.ts, real zstd), then installs
// each release three times through writeSlotPayload (the agent's code): raw slot, zstd payload,
// delta with the base as the running slot. Prints bytes, ratios to the raw slot and seconds.
// The changes are synthetic but of the real size: (a) keel's JS bundle edited and re-injected
// into the executable, version files changed; (b) every file of iproute2 rebuilt (bytes after
// the first 64 XORed: same size and compressibility, nothing in common with the old), its dpkg
// version bumped; (c) every kernel module rebuilt the same way under a new version directory.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync, mkdirSync, readdirSync, statSync, renameSync, existsSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBundle } from '../src/update/release-bundle.js';
import { makePayloads } from '../src/update/payload-maker.js';
import { publishRelease } from '../src/update/repository-writer.js';
import { fetchTrustedTargets } from '../src/update/trusted-metadata.js';
import { releasesOf, type Release } from '../src/update/release.js';
import { writeSlotPayload } from '../src/update/payload-install.js';
import { repositoryUrls } from '../src/update/payload-source.js';
import { generateKeyPairPem, signingKeyOfPem } from '../src/update/signing-key.js';

// Run from the repository root (update-payload.bench.sh cds there; the bundle lives in .cache/bench).
const root = resolve(process.cwd());
const work = join(root, '.cache/bench-update-payload');
const tree = join(root, '.cache/image/rootfs');
const level = Number(process.env.KEEL_BENCH_ZSTD_LEVEL ?? 19);
const epoch = execFileSync('git', ['log', '-1', '--format=%ct', '--', 'images/packages.txt'], { cwd: root }).toString().trim() || '1700000000';
const sh = (script: string) => execFileSync('bash', ['-c', script], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: epoch } }).toString();
const now = () => Number(process.hrtime.bigint()) / 1e9;

/** "Rebuilds" a file: same size and compressibility, no bytes in common with the old one past its header. */
function rebuild(path: string): void {
  const info = lstatSync(path);
  if (!info.isFile()) return;
  const bytes = readFileSync(path);
  for (let i = 64; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0x5a;
  // A new file, not a write through the hard link cp -al made into the base tree.
  rmSync(path);
  writeFileSync(path, bytes, { mode: info.mode & 0o7777 });
  execFileSync('chown', [`${info.uid}:${info.gid}`, path]);
}

function setVersion(dir: string, version: string): void {
  writeFileSync(join(dir, 'usr/lib/keel/version'), `${version}\n`);
  const osRelease = readFileSync(join(dir, 'usr/lib/os-release'), 'utf8').replace(/^(VERSION|VERSION_ID)=.*$/gm, (_l, k: string) => `${k}="${version}"`);
  rmSync(join(dir, 'usr/lib/os-release'));
  writeFileSync(join(dir, 'usr/lib/os-release'), osRelease);
}

/** A new keel executable: the update group's bundle with one message changed and ~20 KB of new code, injected into node again. */
function changeKeel(dir: string): void {
  // The bundle is a CommonJS wrapper function (scripts/build.mjs): call it, as keel's loader does.
  const js = `${readFileSync(join(root, 'build/sea/keel.update.cjs'), 'utf8').replace('nothing installed', 'nothing was installed')}(exports, require, module, __filename, __dirname);`;
  const feature = Array.from({ length: 400 }, (_, i) => `function benchFeature${i}(x) { return x * ${i} + ${i * 7}; }`).join('\n');
  writeFileSync(join(work, 'keel-next.cjs'), `${js}\n${feature}\n`);
  writeFileSync(join(work, 'sea.json'), JSON.stringify({ main: join(work, 'keel-next.cjs'), output: join(work, 'keel.blob'), disableExperimentalSEAWarning: true }));
  sh(`node --experimental-sea-config sea.json >/dev/null && cp "$(command -v node)" keel-next && strip keel-next && npx --prefix ${root} postject keel-next NODE_SEA_BLOB keel.blob --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null`);
  rmSync(join(dir, 'usr/bin/keel'));
  sh(`install -m 0755 keel-next ${dir}/usr/bin/keel`);
}

function changePackage(dir: string, name: string): number {
  let files = 0;
  for (const line of readFileSync(join(dir, `var/lib/dpkg/info/${name}.list`), 'utf8').split('\n')) {
    const path = join(dir, line);
    if (line && existsSync(path) && lstatSync(path).isFile() && !line.includes('/usr/share/doc/')) {
      rebuild(path);
      files++;
    }
  }
  const status = join(dir, 'var/lib/dpkg/status');
  const text = readFileSync(status, 'utf8').replace(new RegExp(`(Package: ${name}\\n(?:.+\\n)*?Version: )(.+)`), (_m, head: string, v: string) => `${head}${v}+bench1`);
  rmSync(status);
  writeFileSync(status, text);
  return files;
}

function changeKernel(dir: string): number {
  const modules = join(dir, 'usr/lib/modules');
  const [kver] = readdirSync(modules);
  const next = kver!.replace(/-(\d+)-/, (_m, n: string) => `-${Number(n) + 1}-`);
  renameSync(join(modules, kver!), join(modules, next));
  const files = sh(`find ${join(modules, next)} -type f -name '*.ko'`).split('\n').filter(Boolean);
  for (const f of files) rebuild(f);
  // depmod cannot read the rebuilt (XORed) modules: its index files stay what it can make of them.
  sh(`chroot ${dir} depmod -a ${next} 2>/dev/null || true`);
  return files.length;
}

async function slotOf(name: string, version: string, change?: (dir: string) => unknown) {
  const dir = join(work, `tree-${name}`);
  sh(`cp -al ${tree} ${dir}`);
  setVersion(dir, version);
  const what = change?.(dir);
  const start = now();
  sh(`${root}/images/make-slot.sh ${dir} slot-${name}.img ${version} 2>/dev/null`);
  const built = now() - start;
  rmSync(dir, { recursive: true, force: true });
  const bundle = join(work, `bundle-${name}`);
  mkdirSync(bundle);
  renameSync(join(work, `slot-${name}.img`), join(bundle, 'slot.img'));
  writeFileSync(join(bundle, 'manifest.json'), JSON.stringify({ version, files: [{ name: 'slot.img', role: 'slot' }] }));
  return { bundle, built, what };
}

async function main(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const pair = generateKeyPairPem();
  const key = signingKeyOfPem(pair.privatePem);
  const base = await slotOf('base', '1.0.0');
  const baseBundle = await readBundle(base.bundle);
  const cases = [
    { id: 'a', label: 'only keel changed', version: '1.0.1', change: changeKeel, goal: 5 },
    { id: 'b', label: 'one Debian package (iproute2)', version: '1.0.2', change: (d: string) => changePackage(d, 'iproute2'), goal: 15 },
    { id: 'c', label: 'new kernel (modules)', version: '1.0.3', change: changeKernel, goal: undefined },
  ];
  const baseSlot = baseBundle.files.find((f) => f.role === 'slot')!;
  // Each release's rows print as soon as they are measured: at -19 on a loaded machine one
  // release's payloads take minutes (822 s at load ~14).
  console.log(`base slot: ${baseSlot.size} bytes (${(baseSlot.size / 2 ** 20).toFixed(1)} MiB); zstd -${level}`);
  console.log(['release', 'form', 'bytes downloaded', 'of raw slot', 'goal', 'install'].join(' | '));
  for (const c of cases) {
    const made = await slotOf(c.id, c.version, c.change);
    const bundle = await readBundle(made.bundle);
    const t0 = now();
    const payloads = await makePayloads({ bundle, from: [baseBundle], workDir: join(work, `payloads-${c.id}`), level });
    const publishS = now() - t0;
    const repo = join(work, `repo-${c.id}`);
    await publishRelease({ repoDir: repo, key, bundle, channel: 'stable', nowMs: Date.now(), payloads });
    const trusted = await fetchTrustedTargets(repo, pair.publicPem, join(work, `tuf-${c.id}`));
    const release = releasesOf(trusted.targets).find((r) => r.version === c.version)!;
    const raw = release.slot.length;
    const forms: [string, Release, string | undefined][] = [
      ['raw', { ...release, compressed: undefined, deltas: [] } as Release, undefined],
      ['zstd', { ...release, deltas: [] }, undefined],
      ['delta', release, join(made.bundle, '..', 'bundle-base', 'slot.img')],
    ];
    for (const [form, r, source] of forms) {
      const state = join(work, `state-${c.id}-${form}`);
      rmSync(join(work, 'target.img'), { force: true });
      const s = now();
      const write = await writeSlotPayload({ urls: repositoryUrls(repo), target: join(work, 'target.img'), stateDir: state, ...(source && { source }) }, r);
      const seconds = now() - s;
      if (write.payload !== form) throw new Error(`${c.id}: expected the ${form} form, installed ${write.payload}`);
      const pct = (100 * write.downloaded) / raw;
      const goal = form === 'zstd' ? 65 : form === 'delta' ? c.goal : undefined;
      console.log([`(${c.id}) ${c.label}`, form, String(write.downloaded), `${pct.toFixed(1)} %`, goal === undefined ? '' : `${pct <= goal ? 'meets' : 'misses'} ≤ ${goal} %`, `${seconds.toFixed(1)} s`].join(' | '));
    }
    rmSync(join(work, `payloads-${c.id}`), { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
    console.log(`  (${c.id}): ${made.what === undefined ? '' : `${String(made.what)} files changed; `}slot built in ${made.built.toFixed(1)} s; payloads made in ${publishS.toFixed(0)} s; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
