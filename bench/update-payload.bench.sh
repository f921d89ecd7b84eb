#!/usr/bin/env bash
# Update payload sizes and install times (issue 14): for three kinds of release made from the
# OS tree of `make image` ((a) only keel changed, (b) one Debian package changed, (c) a new
# kernel), the raw slot, the zstd payload and the delta from the previous slot, each published
# and installed through keel's own code (bench/update-payload.bench.ts). Needs root (the tree's
# owners) and .cache/image/rootfs; KEEL_BENCH_ZSTD_LEVEL (default 19, as publish) sets the level.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .cache/image/rootfs ] || [ ! -x build/keel ]; then
  echo "update-payload: no OS tree (.cache/image/rootfs) or build/keel: run make image first; nothing measured"
  exit 0
fi
mkdir -p .cache/bench
npx esbuild bench/update-payload.bench.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile=.cache/bench/update-payload.mjs
exec nice node .cache/bench/update-payload.mjs
