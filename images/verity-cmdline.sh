#!/usr/bin/env bash
# Prints the kernel command line words that make keel's initramfs map a slot through dm-verity:
# `keel.verity=<root hash> keel.verity.hashoffset=<bytes>`, read from the slot's sidecar
# (<slot>.verity.json, written by images/make-slot.sh). Used by mk/image.mk (build/kernel-cmdline,
# direct boots) and images/make-disk.sh (slot A's boot entry).
# usage: verity-cmdline.sh SLOT.img.verity.json
set -euo pipefail
json=${1:?usage: verity-cmdline.sh SLOT.img.verity.json}
[ -s "$json" ] || { echo "verity-cmdline: $json is missing; expected make-slot.sh's verity sidecar; the slot would not boot" >&2; exit 1; }
hash=$(sed -n 's/.*"rootHash": *"\([0-9a-f]\{64\}\)".*/\1/p' "$json")
offset=$(sed -n 's/.*"hashOffset": *\([0-9]\{1,\}\).*/\1/p' "$json")
[ -n "$hash" ] && [ -n "$offset" ] || { echo "verity-cmdline: $json: expected a 64-hex rootHash and a hashOffset; the slot would not boot" >&2; exit 1; }
echo "keel.verity=$hash keel.verity.hashoffset=$offset"
