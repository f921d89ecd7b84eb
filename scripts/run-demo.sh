#!/usr/bin/env bash
# `make run` until the image exists: apply the demo cloud-config into a fresh directory,
# printing the plan and the tree it produced.
set -euo pipefail
cd "$(dirname "$0")/.."
root=.cache/run/root
rm -rf "$root" && mkdir -p "$root"
./bin/keel cloud-config plan --from-file cloud-config/examples/demo.yaml --root "$root"
./bin/keel cloud-config apply --from-file cloud-config/examples/demo.yaml --root "$root"
echo "== tree under $root"
find "$root" -printf '%M %u:%g %p\n' | sort -k3
