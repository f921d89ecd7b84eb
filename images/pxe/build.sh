#!/usr/bin/env bash
# Builds keel's network installer initramfs (zstd newc cpio): busybox-static, /init
# (images/pxe/init), the modules to reach a network card and a disk (taken from the OS tree
# so they match build/vmlinuz), and the installer itself: keel's single executable with
# sgdisk, mkfs.vfat and mcopy and the libraries they link (from this build host, where the
# single executable was made).
# usage: build.sh ROOTFS_DIR KEEL_EXECUTABLE OUT_FILE
set -euo pipefail
rootfs=$(cd "$1" && pwd) keel=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
kver=$(basename "$(ls -d "$rootfs"/usr/lib/modules/*)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t=$work/tree
mkdir -p "$t"/{bin,sbin,etc,proc,sys,dev,run,tmp,lib/modules,usr/bin,usr/sbin}

install -m 0755 "$busybox" "$t/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || [ -e "$t/bin/$applet" ] || ln -s busybox "$t/bin/$applet"
done
install -m 0755 "$here/init" "$t/init"
install -m 0755 "$here/udhcpc.script" "$t/etc/udhcpc.script"

# Network cards and disks of VMs and common servers, and vfat for the seed check.
modules=(virtio_pci virtio_net virtio_blk virtio_scsi e1000 e1000e igb ixgbe sd_mod nvme ahci ata_piix af_packet)
: > "$t/lib/modules/load-order"
for m in "${modules[@]}"; do
  deps=$(modprobe -d "$rootfs" -S "$kver" --show-depends "$m" 2>/dev/null) || { echo "pxe: no module $m for kernel $kver; skipped" >&2; continue; }
  awk '$1 == "insmod" { print $2 }' <<<"$deps"
done | awk '!seen[$0]++' | while read -r ko; do
  rel=${ko#*/modules/"$kver"/}
  mkdir -p "$t/lib/modules/$(dirname "$rel")"
  src=$rootfs/usr/lib/modules/$kver/$rel
  # The OS tree's modules are trimmed: a driver it does not ship is skipped here too.
  [ -e "$src" ] || { echo "pxe: $rel is not in the OS tree; skipped" >&2; continue; }
  case "$src" in
    *.xz) xz -dc "$src" > "$t/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
    *.zst) zstd -qdc "$src" > "$t/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
    *) cp "$src" "$t/lib/modules/$rel" ;;
  esac
  echo "$rel" >> "$t/lib/modules/load-order"
done
grep -q virtio_net "$t/lib/modules/load-order" || { echo "pxe: virtio_net not found for kernel $kver in $rootfs; cannot build" >&2; exit 1; }

copy_with_libs() { # SRC DEST
  local lib
  install -D -m 0755 "$1" "$t$2"
  for lib in $(ldd "$1" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
    [ -e "$t$lib" ] || install -D -m 0755 "$lib" "$t$lib"
  done
}
copy_with_libs "$keel" /usr/bin/keel
copy_with_libs "$(command -v sgdisk)" /usr/sbin/sgdisk
copy_with_libs "$(command -v mkfs.vfat)" /usr/sbin/mkfs.vfat
copy_with_libs "$(command -v mcopy)" /usr/bin/mcopy
copy_with_libs "$(command -v blkdiscard)" /usr/sbin/blkdiscard
# mtools converts file names through iconv: glibc's gconv table and the DOS code page.
gconv=/usr/lib/x86_64-linux-gnu/gconv  # glibc's compiled-in path (the initramfs has no merged /usr)
mkdir -p "$t$gconv"
cp -a "$gconv"/gconv-modules "$gconv"/gconv-modules.cache "$gconv"/IBM850.so "$gconv"/IBM437.so "$t$gconv/"
[ -d "$gconv/gconv-modules.d" ] && cp -a "$gconv/gconv-modules.d" "$t$gconv/"
mkdir -p "$(dirname "$out")"
(cd "$t" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible --quiet) | nice zstd -q -10 -T0 > "$out.tmp"
mv "$out.tmp" "$out"
echo "pxe: initramfs $(du -k "$out" | cut -f1) KiB ($(wc -l < "$t/lib/modules/load-order") modules, kernel $kver)" >&2
