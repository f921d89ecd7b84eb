#!/usr/bin/env bash
# Writes the JSON manifests keel's consumers verify against, on stdout:
#   manifest.sh release VERSION DIR   the update bundle in DIR (slot.img, vmlinuz, initramfs.img, and
#                                     slot.img.verity.json from images/make-slot.sh, copied in as "verity")
#   manifest.sh disk VERSION FILE     the whole-disk image the installer writes
# Sizes are bytes; sha256 is lowercase hex of the file's full content.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=layout.env
. "$here/layout.env"
kind=$1 version=$2 target=$3
entry() { # name path
  printf '"%s": { "path": "%s", "size": %s, "sha256": "%s" }' "$1" "$(basename "$2")" "$(stat -c %s "$2")" "$(sha256sum "$2" | cut -d' ' -f1)"
}
case "$kind" in
  release)
    # The slot's dm-verity layout and root hash: what the signed metadata carries to the boot entry.
    verity=$target/slot.img.verity.json
    [ -s "$verity" ] || { echo "manifest.sh: $verity is missing; expected images/make-slot.sh's verity sidecar; no manifest" >&2; exit 1; }
    cat <<JSON
{
  "kind": "keel-release",
  "version": "$version",
  "slotFormat": "erofs",
  "cmdline": "$KERNEL_CMDLINE",
  "artifacts": {
    $(entry slot "$target/slot.img"),
    $(entry kernel "$target/vmlinuz"),
    $(entry initramfs "$target/initramfs.img")
  },
  "verity": $(cat "$verity")
}
JSON
    ;;
  disk)
    cat <<JSON
{
  "kind": "keel-disk-image",
  "version": "$version",
  $(entry image "$target"),
  "partitions": ["$ESP_LABEL", "$SLOT_A_LABEL", "$SLOT_B_LABEL", "$STATE_LABEL"]
}
JSON
    ;;
  *) echo "manifest.sh: unknown kind '$kind', expected release or disk" >&2; exit 2 ;;
esac
