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
# Owners, modes, xattrs and contents are kept: they are meaningful. Build-host leftovers are
# removed from the tree before this, by images/normalise-tree.sh (called by customise.sh).
# usage: SOURCE_DATE_EPOCH=N make-slot.sh TREE OUT VERSION
set -euo pipefail
tree=$1 out=$2 version=$3
epoch=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set (seconds since 1970): the slot would carry the build time}
[[ $epoch =~ ^[0-9]+$ ]] || { echo "make-slot: SOURCE_DATE_EPOCH=$epoch: expected whole seconds since 1970; no slot made" >&2; exit 1; }
[ -d "$tree" ] || { echo "make-slot: $tree: not a directory; expected the OS tree; no slot made" >&2; exit 1; }
# A UUID (RFC 9562 version 8: custom) from the version alone.
h=$(printf 'keel-slot %s' "$version" | sha256sum | cut -c1-32)
uuid="${h:0:8}-${h:8:4}-8${h:13:3}-a${h:17:3}-${h:20:12}"
rm -f "$out.tmp"
# erofs lz4hc: builds in ~6 s; squashfs zstd is ~40% smaller but ~4x slower to build and
# slower to read under emulation (images/README.md).
# erofs-utils 1.5 reads SOURCE_DATE_EPOCH itself, and then forces extended inodes that keep each
# file's own mtime (two trees differing only in mtimes gave different images): it is passed as -T.
env -u SOURCE_DATE_EPOCH mkfs.erofs -zlz4hc --quiet --ignore-mtime -T"$epoch" -U"$uuid" "$out.tmp" "$tree"
mv "$out.tmp" "$out"
echo "slot: $out $(du -m "$out" | cut -f1) MiB, sha256 $(sha256sum "$out" | cut -c1-16)…, SOURCE_DATE_EPOCH=$epoch" >&2
