#!/usr/bin/env bash
# Makes keel's single executable with Node's own single-executable support: bundle to one
# CommonJS file, generate the blob, inject it into a stripped copy of this machine's node.
# useCodeCache: the blob carries V8's code cache of the bundle, made here by this node, so a
# start does not pre-parse the whole 2 MB bundle (about 2× faster `keel --help`; bench/cli.bench.mjs).
set -euo pipefail
out=${1:-build/keel}
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$out")" .cache/sea
node scripts/build.mjs --sea
cat > .cache/sea/sea-config.json <<JSON
{ "main": "build/keel-sea.cjs", "output": ".cache/sea/keel.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
JSON
node --experimental-sea-config .cache/sea/sea-config.json >/dev/null
cp "$(command -v node)" "$out.tmp"
strip "$out.tmp"
npx postject "$out.tmp" NODE_SEA_BLOB .cache/sea/keel.blob --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null
chmod 755 "$out.tmp"
mv "$out.tmp" "$out"
echo "keel-sea: $out $(du -h "$out" | cut -f1) ($(gzip -c "$out" | wc -c | numfmt --to=iec) gzipped)"
