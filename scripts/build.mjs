// Bundles keel with esbuild: bin/keel.mjs for ./bin/keel, and with --sea a CommonJS bundle
// for Node's single-executable support (SEA mains must be CommonJS scripts on Node 20).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
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

const common = {
  entryPoints: ['src/cli/entry.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  define: { __KEEL_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
  legalComments: 'none',
  // etcd3 reads its .proto files from disk at run time: embed them (lock area).
  plugins: [etcd3ProtoPlugin, absentOptionalModules],
};

if (sea) {
  // ESM-only dependencies (node-cron) read import.meta.url at load time; in the CommonJS
  // bundle give them the executable's own file URL instead of undefined.
  await build({
    ...common,
    format: 'cjs',
    outfile: 'build/keel-sea.cjs',
    minify: true,
    define: { ...common.define, 'import.meta.url': '__keelImportMetaUrl' },
    banner: { js: "var __keelImportMetaUrl = require('url').pathToFileURL(process.execPath).href;" },
  });
} else {
  await build({
    ...common,
    format: 'esm',
    outfile: 'bin/keel.mjs',
    // Bundled CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __keelCreateRequire } from 'node:module'; const require = __keelCreateRequire(import.meta.url);" },
  });
}
