#!/usr/bin/env bash
# keel containers: spec → running latency and 50 containers from nothing, keel-supervisor
# beside hand-written units with systemctl start and beside plain podman run -d, in one
# systemd guest (see bench/containers-bench.ts). Needs root (namespaces), like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f bin/keel.mjs ] || node scripts/build.mjs
mkdir -p .cache/bench
# The bench is TypeScript that shares the integration tests' guest; bundle it, keep packages external.
npx esbuild bench/containers-bench.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile=.cache/bench/containers.mjs
exec nice node .cache/bench/containers.mjs
