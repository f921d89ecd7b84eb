#!/usr/bin/env bash
# The systemd edge: test rootfs, systemd-in-namespaces boot time, and transient command
# latency over keel's one D-Bus connection beside a connection per call and systemd-run
# (see bench/systemd-bench.ts). Needs root (namespaces, mounts), like the integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache/bench
npx esbuild bench/systemd-bench.ts --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile=.cache/bench/systemd.mjs
exec nice node .cache/bench/systemd.mjs
