#!/usr/bin/env bash
# Makes keel's single executable with Node's own single-executable support: bundle to one
# CommonJS file, generate the blob, inject it into a stripped copy of this machine's node.
# The blob's main is a small loader (scripts/build.mjs, which also writes the SEA config) that
# compiles the bundle, an asset, with V8's code cache for the command group, other assets made
# by this node at build time after warm-up runs, so a start neither pre-parses the 2 MB bundle
# nor recompiles the group's code (bench/cli.bench.mjs).
set -euo pipefail
out=${1:-build/keel}
cd "$(dirname "$0")/.."
mkdir -p "$(dirname "$out")" .cache/sea
node scripts/build.mjs --sea
node --experimental-sea-config build/keel-sea-config.json >/dev/null
cp "$(command -v node)" "$out.tmp"
strip "$out.tmp"
npx postject "$out.tmp" NODE_SEA_BLOB .cache/sea/keel.blob --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null
chmod 755 "$out.tmp"
mv "$out.tmp" "$out"
echo "keel-sea: $out $(du -h "$out" | cut -f1) ($(gzip -c "$out" | wc -c | numfmt --to=iec) gzipped)"
