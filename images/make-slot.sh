#!/usr/bin/env bash
# Makes the OS slot image from an OS tree, reproducibly: the same tree gives the same bytes on
# every run and every host, which is what lets an update ship a delta against the old slot.
#   - every inode's mtime and the superblock's build time are SOURCE_DATE_EPOCH (erofs-utils
#     1.5's -T sets only the build time; --ignore-mtime gives every inode that time and the
#     compact 32-byte inode, 0.3 MiB less); a read-only OS carries no meaningful mtimes, and
#     OSTree likewise gives every file of a deployment one time;
#   - the filesystem UUID is derived from the version (mkfs.erofs -U), so two builds of one
#     version agree while the two slots of a host (different versions) still differ;
#   - directory entries are sorted by mkfs.erofs itself, so the build host's readdir order
#     does not matter (test/integration/update/slot-reproducible.test.ts builds one tree made
#     in two orders and compares).
#   - dm-verity (issue 15): the filesystem is zero-padded to a 4096-byte boundary and Debian's
#     `veritysetup format` appends the hash area after it (its superblock first, then the tree,
#     top level first), sha256 with 4096-byte blocks; the salt and the verity UUID are derived
#     from the version like the filesystem UUID, so the hash area is reproducible too. The root
#     hash and the layout go to OUT.verity.json (the release manifest's "verity", what the boot
#     entry's keel.verity= and keel.verity.hashoffset= carry); images/README.md, Verified slots.
# Owners, modes, xattrs and contents are kept: they are meaningful. Build-host leftovers are
# removed from the tree before this, by images/normalise-tree.sh (called by customise.sh).
# usage: SOURCE_DATE_EPOCH=N make-slot.sh TREE OUT VERSION   (writes OUT and OUT.verity.json)
set -euo pipefail
tree=$1 out=$2 version=$3
epoch=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set (seconds since 1970): the slot would carry the build time}
[[ $epoch =~ ^[0-9]+$ ]] || { echo "make-slot: SOURCE_DATE_EPOCH=$epoch: expected whole seconds since 1970; no slot made" >&2; exit 1; }
[ -d "$tree" ] || { echo "make-slot: $tree: not a directory; expected the OS tree; no slot made" >&2; exit 1; }
# A UUID (RFC 9562 version 8: custom) from the version alone.
h=$(printf 'keel-slot %s' "$version" | sha256sum | cut -c1-32)
uuid="${h:0:8}-${h:8:4}-8${h:13:3}-a${h:17:3}-${h:20:12}"
rm -f "$out.tmp" "$out.verity.json"
# erofs lz4hc: builds in ~6 s; squashfs zstd is ~40% smaller but ~4x slower to build and
# slower to read under emulation (images/README.md).
# erofs-utils 1.5 reads SOURCE_DATE_EPOCH itself, and then forces extended inodes that keep each
# file's own mtime (two trees differing only in mtimes gave different images): it is passed as -T.
env -u SOURCE_DATE_EPOCH mkfs.erofs -zlz4hc --quiet --ignore-mtime -T"$epoch" -U"$uuid" "$out.tmp" "$tree"

# dm-verity over the padded filesystem, its hash area appended in the same file.
block=4096
data_bytes=$(( ($(stat -c %s "$out.tmp") + block - 1) / block * block ))
truncate -s "$data_bytes" "$out.tmp"
salt=$(printf 'keel-verity-salt %s' "$version" | sha256sum | cut -c1-64)
v=$(printf 'keel-verity %s' "$version" | sha256sum | cut -c1-32)
verity_uuid="${v:0:8}-${v:8:4}-8${v:13:3}-a${v:17:3}-${v:20:12}"
format=$(veritysetup format "$out.tmp" "$out.tmp" --hash=sha256 --data-block-size=$block --hash-block-size=$block \
  --data-blocks=$((data_bytes / block)) --hash-offset="$data_bytes" --salt="$salt" --uuid="$verity_uuid") \
  || { rm -f "$out.tmp"; echo "make-slot: veritysetup format failed; no slot made" >&2; exit 1; }
root_hash=$(sed -n 's/^Root hash:[[:space:]]*\([0-9a-f]\{64\}\)$/\1/p' <<<"$format")
[ -n "$root_hash" ] || { rm -f "$out.tmp"; echo "make-slot: no root hash in veritysetup's output ($format); no slot made" >&2; exit 1; }
printf '{ "hashAlgorithm": "sha256", "dataBlockSize": %d, "hashBlockSize": %d, "dataSize": %d, "hashOffset": %d, "salt": "%s", "rootHash": "%s" }\n' \
  $block $block "$data_bytes" "$data_bytes" "$salt" "$root_hash" > "$out.verity.json.tmp"
mv "$out.tmp" "$out"
mv "$out.verity.json.tmp" "$out.verity.json"
echo "slot: $out $(du -m "$out" | cut -f1) MiB, sha256 $(sha256sum "$out" | cut -c1-16)…, verity root $(cut -c1-16 <<<"$root_hash")… at $data_bytes, SOURCE_DATE_EPOCH=$epoch" >&2
