#!/usr/bin/env bash
# Builds (once) the Debian 12 rootfs that test/harness/systemd-ns.ts boots systemd in, and
# prints its path. The cache key is a hash of the package list and of this script, so a
# change to either builds a new tree; an existing tree is reused as is. The build runs in a
# temp dir beside the cache and is renamed into place, so a crash never leaves a half tree,
# and a lock serialises concurrent callers (several test files may ask at once).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages_file=$here/test/harness/rootfs.packages
cache=${KEEL_ROOTFS_CACHE:-$here/.cache/rootfs}
mirror=${KEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
key=$(cat "$packages_file" "$0" | sha256sum | cut -c1-16)
final=$cache/systemd-$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -d "$final" ]; then echo "$final"; exit 0; fi

packages=$(sed 's/#.*//' "$packages_file" | tr -s ' \n' '\n' | grep -v '^$' | paste -sd, -)
tmp=$(mktemp -d "$cache/.build-XXXXXX")
trap 'umount -R "$tmp/rootfs/proc" 2>/dev/null || true; rm -rf "$tmp"' EXIT
start=$(date +%s%N)
echo "make-test-rootfs: debootstrap bookworm minbase + $packages" >&2
nice debootstrap --variant=minbase --include="$packages" bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
  { tail -n 30 "$tmp/debootstrap.log" >&2; echo "make-test-rootfs: debootstrap failed; no rootfs cached" >&2; exit 1; }

r=$tmp/rootfs
# Boot straight to multi-user; nothing here has a tty, a kernel to remount or udev to wait for.
ln -sf /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
for u in getty@tty1.service console-getty.service serial-getty@.service getty.target \
  systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-udev-settle.service systemd-hwdb-update.service systemd-modules-load.service \
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  systemd-firstboot.service systemd-sysusers.service; do
  ln -sf /dev/null "$r/etc/systemd/system/$u"
done
# podman's own services (API socket, auto-update, restart) are enabled by its package; they are
# not what the tests run and fail on the overlay rootfs, so they are switched off here.
find "$r/etc/systemd/system" -path '*.wants/podman*' -delete
# The harness writes a fresh machine id into each booted copy.
: >"$r/etc/machine-id"
echo keel-test >"$r/etc/hostname"
# Keep the tree small: no apt lists, docs or caches.
rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"* "$r/usr/share/doc/"* "$r/usr/share/man/"*
mv "$r" "$final"
# Trees of older package lists are dead weight; keep any that a booted guest still uses.
for old in "$cache"/systemd-*; do
  [ "$old" = "$final" ] && continue
  grep -q "lowerdir=$old" /proc/mounts || rm -rf "$old"
done
echo "make-test-rootfs: built $final in $(( ($(date +%s%N) - start) / 1000000 )) ms" >&2
echo "$final"
