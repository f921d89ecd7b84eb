// Bundles keel with esbuild into CommonJS bundles, in two places:
// - bin/, run by bin/keel (and bin/keel-loader.cjs for bin/keel.mjs) with a V8 code cache beside each
//   bundle (made here at build time: nothing is ever written at run time, so a read-only /usr
//   or work tree is fine; a cache this node rejects is ignored);
// - with --sea, build/sea/ for Node's single-executable support (SEA mains must be CommonJS
//   scripts on Node 20; scripts/make-sea.sh makes the executable with them as assets).
// One bundle per command group (keel.GROUP.cjs: cloud-config, update, lock, ...) holds that
// group's code alone, and keel.cjs holds the top level (--help, --version, the list of words):
// a call reads and compiles only what its group needs (a 0.6 MB bundle for `cloud-config
// validate`, where one bundle of every group was 2.5 MB). Inside a group bundle, a lazy
// command (src/cli/command.ts) still sits behind esbuild's lazy init wrappers, so a call
// evaluates only the modules it runs. Measured in bench/cli.bench.mjs; docs/start-up.md.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { etcd3ProtoPlugin } from './esbuild-etcd3-proto.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const version = process.env.KEEL_VERSION || pkg.version;
const sea = process.argv.includes('--sea');

// Optional modules some dependencies probe for inside try/catch (dbus-next: usocket, x11;
// debug: supports-color; ws: bufferutil, utf-8-validate). keel needs none of them. Each
// resolves to a module that throws as a missing one would, so the probe falls back quietly;
// as plain externals, the single executable would warn on every start that its require()
// loads only built-in modules.
const optionalModules = ['usocket', 'x11', 'supports-color', 'bufferutil', 'utf-8-validate'];
const absentOptionalModules = {
  name: 'absent-optional-modules',
  setup(b) {
    const filter = new RegExp(`^(${optionalModules.join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `const e = new Error("Cannot find module '${args.path}'"); e.code = 'MODULE_NOT_FOUND'; throw e;`,
      loader: 'js',
    }));
  },
};

/**
 * Command groups, read from src/cli/main.ts's entries (the command word and the module it
 * loads with import(), `./WORD.js`), each bundled on its own: a group added there gets its
 * bundle without a second list here.
 */
const groups = [...readFileSync('src/cli/main.ts', 'utf8').matchAll(/\{ name: '([a-z-]+)',[^\n]*import\('\.\/([a-z-]+)\.js'\)/g)].map(([, word, module]) => {
  if (word !== module) throw new Error(`build: keel ${word} loads ./${module}.js; a group's module must be named as its word (the loader picks keel.WORD.cjs)`);
  return word;
});
if (groups.length === 0) throw new Error('build: no command groups found in src/cli/main.ts');

/**
 * Keeps one group (or none, for the top bundle) in a bundle: main.ts's import() of any other
 * group resolves to a module that throws, so the bundle holds none of that group's code. The
 * loader never runs a group from another group's bundle; if a group's bundle is missing, the
 * top bundle says so in one line.
 */
const onlyGroup = (kept) => ({
  name: 'only-group',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      const group = args.path.slice(2, -3);
      if (!/[\\/]src[\\/]cli[\\/]main\.ts$/.test(args.importer) || !groups.includes(group) || group === kept) return undefined;
      return { path: group, namespace: 'other-group' };
    });
    b.onLoad({ filter: /.*/, namespace: 'other-group' }, (args) => ({
      contents: `throw new Error("this build has no bundle for 'keel ${args.path}' (keel.${args.path}.cjs): run make build");`,
      loader: 'js',
    }));
  },
});

// Each bundle is written as one function expression, the CommonJS wrapper that the loaders call
// (exports, require, module, __filename, __dirname): the file is the exact source V8 compiles,
// so a start reads it into one string and compiles it as is. Wrapping it at run time made V8
// flatten a second copy of it (0.6 to 2 MB more for the young generation to collect).
const wrapHead = '(function (exports, require, module, __filename, __dirname) { ';
const wrapTail = '\n})';

// ESM-only dependencies (node-cron) read import.meta.url at load time; in the CommonJS bundle
// give them a file URL (the bundle's, or the executable's) instead of undefined.
const bundleOptions = (outfile, metaUrlFile, group) => ({
  entryPoints: ['src/cli/entry.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile,
  minify: true,
  define: { __KEEL_VERSION__: JSON.stringify(version), 'import.meta.url': '__keelImportMetaUrl' },
  banner: { js: `${wrapHead}var __keelImportMetaUrl = require('url').pathToFileURL(${metaUrlFile}).href;` },
  footer: { js: wrapTail },
  logLevel: 'warning',
  legalComments: 'none',
  // etcd3 reads its .proto files from disk at run time: embed them (lock area).
  plugins: [etcd3ProtoPlugin, absentOptionalModules, onlyGroup(group)],
});



/** The loader's choice, in both loaders: the bundle of the group named by the first word, else the top one. */
const pickBundle = `const word = process.argv[2] ?? '';
const name = ${JSON.stringify(groups)}.includes(word) ? \`keel.\${word}.cjs\` : 'keel.cjs';`;

/**
 * The loader, written twice: as `bin/keel` itself (the command; a require of a second file
 * cost ~0.6 ms a start) and as bin/keel-loader.cjs, which bin/keel.mjs imports for those who
 * run `node bin/keel.mjs`. It compiles the call's bundle (bin/keel.GROUP.cjs or bin/keel.cjs)
 * as CommonJS with its code cache, then runs it. CommonJS (bin/package.json says so), so a
 * start does not load node's ESM loader (~10 ms).
 */
const loader = `// Generated by scripts/build.mjs: runs the bundle of the command's group with the V8 code cache made at build time.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
${pickBundle}
const file = join(__dirname, name);
let cachedData; // none: V8 compiles as usual
try { cachedData = readFileSync(\`\${file}.cache\`); } catch { /* compile without */ }
const source = readFileSync(file, 'utf8');
const script = new Script(source, { filename: file, cachedData });
if (process.env.KEEL_DEBUG && script.cachedDataRejected !== false) process.stderr.write(\`keel: code cache of \${name} not used\\n\`);
const bundle = { exports: {}, filename: file, id: file };
// This file's own require resolves from the bundle's directory too; node:module's createRequire
// would load node's ESM loader (~3 ms) for nothing: the bundle requires built-ins only.
script.runInThisContext()(bundle.exports, require, bundle, file, __dirname);
`;

/**
 * A code cache per bundle, each made in a child node that compiles the bundle, runs it as
 * keel would for the group's warm-up commands, then saves the cache, which then holds the
 * functions those calls compiled (the YAML parser and the schema for validate, the apply
 * stack for first boot, the JSON gateway client for lock status), not only the top level.
 * Nothing is written but the cache; the commands' output is dropped. `GATEWAY` in a warm-up
 * is the URL of a stand-in for etcd's JSON gateway that the cache maker serves on loopback
 * (every range empty), so `lock status` runs its whole path at build time without an etcd.
 */
const warmUps = {
  top: [['--help']],
  'cloud-config': [['cloud-config', 'validate', 'cloud-config/examples/demo.yaml'], ['cloud-config', 'apply', '--help'], ['cloud-config', 'plan', '--help']],
  lock: [['lock', 'status', '--help'], ['lock', 'status', '--endpoints', 'GATEWAY']],
  fleet: [['fleet', '--help']],
  update: [['update', '--help']],
  containers: [['containers', '--help']],
  install: [['install', '--help']],
};
const cacheMaker = `
const { readFileSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:http');
const { Script } = require('node:vm');
const [file, out, runs] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const script = new Script(readFileSync(file, 'utf8'), { filename: file });
const run = (args) => {
  process.argv = [process.argv[0], file, ...args];
  const bundle = { exports: {} };
  script.runInThisContext()(bundle.exports, require('node:module').createRequire(file), bundle, file, require('node:path').dirname(file));
};
const gateway = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c)).on('end', () => {
    const ranges = (JSON.parse(body || '{}').success ?? []).map(() => ({ response_range: { header: { revision: '1' }, kvs: [] } }));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ header: { revision: '1' }, succeeded: true, responses: ranges }));
  });
});
gateway.listen(0, '127.0.0.1', () => {
  gateway.unref();
  const url = 'http://127.0.0.1:' + gateway.address().port;
  process.stdout.write = process.stderr.write = () => true;
  for (const args of runs) run(args.map((a) => (a === 'GATEWAY' ? url : a)));
  process.once('beforeExit', () => writeFileSync(out, script.createCachedData()));
});
`;

/**
 * The single executable's main: as the loader, but the bundles and their code caches are
 * assets of the executable (build/keel-sea-config.json, scripts/make-sea.sh): no file beside it.
 */
const seaMain = `// Generated by scripts/build.mjs: runs the asset bundle of the command's group with its code cache asset.
'use strict';
const sea = require('node:sea');
const { Script } = require('node:vm');
${pickBundle}
let cachedData; // none: V8 compiles as usual
try { cachedData = new Uint8Array(sea.getRawAsset(\`\${name}.cache\`)); } catch { /* compile without */ }
const source = sea.getAsset(name, 'utf8');
const script = new Script(source, { filename: name, cachedData });
if (process.env.KEEL_DEBUG && script.cachedDataRejected !== false) process.stderr.write(\`keel: code cache of \${name} not used\\n\`);
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, require, bundle, __filename, require('node:path').dirname(__filename));
`;

/** The bundles: the top one, then one per group; the file name the loaders pick it by. */
const bundles = [{ name: 'keel.cjs', group: undefined, warmUp: warmUps.top }, ...groups.map((group) => ({ name: `keel.${group}.cjs`, group, warmUp: warmUps[group] ?? [[group, '--help']] }))];

/** Writes DIR/NAME for each bundle, then DIR/NAME.cache; warns (keel still runs) when a cache fails. */
async function writeBundles(dir, metaUrlFile) {
  for (const old of readdirSync(dir)) if (/^keel(\.[a-z-]+)?\.cjs(\.[a-z-]+)?(\.cache)?$/.test(old)) rmSync(join(dir, old));
  await Promise.all(bundles.map((b) => build(bundleOptions(join(dir, b.name), metaUrlFile, b.group))));
  for (const b of bundles) {
    const [file, out] = [resolve(dir, b.name), resolve(dir, `${b.name}.cache`)];
    const made = spawnSync(process.execPath, ['-e', cacheMaker, file, out, JSON.stringify(b.warmUp)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (made.status !== 0 || !existsSync(out)) console.warn(`build: no code cache ${out} (exit ${made.status}); keel starts without it`);
  }
}

const dir = sea ? 'build/sea' : 'bin';
mkdirSync(dir, { recursive: true });
await writeBundles(dir, sea ? 'process.execPath' : '__filename');
if (sea) {
  writeFileSync('build/keel-sea-main.cjs', seaMain);
  // scripts/make-sea.sh reads this: the loader as main, the bundles and their caches as assets.
  const assets = Object.fromEntries(bundles.flatMap((b) => [[b.name, join(dir, b.name)], [`${b.name}.cache`, join(dir, `${b.name}.cache`)]]));
  writeFileSync('build/keel-sea-config.json', JSON.stringify({ main: 'build/keel-sea-main.cjs', output: '.cache/sea/keel.blob', disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2) + '\n');
} else {
  writeFileSync('bin/keel', `#!/usr/bin/env node\n${loader}`, { mode: 0o755 });
  writeFileSync('bin/keel-loader.cjs', loader);
  writeFileSync('bin/keel.mjs', "// Generated by scripts/build.mjs: `node bin/keel.mjs` runs keel as bin/keel does.\nimport './keel-loader.cjs';\n");
}

// V8 keeps an ASCII source as a one-byte string; one non-ASCII character (esbuild cannot
// escape those inside String.raw templates) doubles the source in memory and costs ~7 ms of
// every start. Say where, so the source can use an escape instead.
for (const b of bundles) {
  const text = readFileSync(join(dir, b.name), 'utf8');
  const nonAscii = /[^\x00-\x7f]/.exec(text);
  if (nonAscii) console.warn(`build: ${join(dir, b.name)} is not ASCII (${JSON.stringify(text.slice(Math.max(0, nonAscii.index - 40), nonAscii.index + 8))}); every start is ~7 ms slower`);
}
