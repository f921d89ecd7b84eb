#!/usr/bin/env bash
# Runs every benchmark under bench/ (executable files named *.bench.*), each printing keel's
# figure beside its peer's from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for b in bench/*.bench.*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b" || { echo "bench: $b failed"; status=1; }
done
exit $status
