#!/usr/bin/env bash
# Assembles keel's initramfs (a zstd-compressed newc cpio): busybox-static with its applets,
# /init (images/initramfs/init), the kernel modules needed to reach disks and mount the
# slot, state and /etc overlay (with their dependencies, in load order), and mke2fs,
# e2fsck, resize2fs and sfdisk with their libraries, all taken from the OS tree so they
# match its kernel and packages.
# usage: build.sh ROOTFS_DIR OUT_FILE
set -euo pipefail
rootfs=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
kver=$(basename "$(ls -d "$rootfs"/usr/lib/modules/*)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t=$work/tree
mkdir -p "$t"/{bin,sbin,etc,proc,sys,dev,run,sysroot,state,lib/modules,usr/bin,usr/sbin}

# busybox and its applets (static: no libraries); our /init replaces busybox's init.
install -m 0755 "$busybox" "$t/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || [ -e "$t/bin/$applet" ] || ln -s busybox "$t/bin/$applet"
done
install -m 0755 "$here/init" "$t/init"

# Modules: what a VM or server needs to see its disk and mount keel's filesystems.
modules=(virtio_pci virtio_blk virtio_scsi sd_mod nvme ahci ata_piix erofs squashfs overlay ext4 crc32c_generic)
: > "$t/lib/modules/load-order"
for m in "${modules[@]}"; do
  modprobe -d "$rootfs" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  rel=${ko#*/modules/"$kver"/}
  mkdir -p "$t/lib/modules/$(dirname "$rel")"
  src=$rootfs/usr/lib/modules/$kver/$rel
  case "$src" in
    *.xz) xz -dc "$src" > "$t/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
    *.zst) zstd -qdc "$src" > "$t/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
    *) cp "$src" "$t/lib/modules/$rel" ;;
  esac
  echo "$rel" >> "$t/lib/modules/load-order"
done
[ -s "$t/lib/modules/load-order" ] || { echo "initramfs: no modules resolved for kernel $kver in $rootfs; cannot build" >&2; exit 1; }

# e2fsprogs, sfdisk and blkid (busybox-static has none that know GPT resizing or erofs) with the shared libraries ldd names inside the OS tree.
copy_with_libs() {
  local bin=$1 lib
  install -D -m 0755 "$rootfs$bin" "$t$bin"
  for lib in $(chroot "$rootfs" ldd "$bin" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
    [ -e "$t$lib" ] || install -D -m 0755 "$rootfs$lib" "$t$lib"
  done
}
for bin in /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/resize2fs /usr/sbin/sfdisk /usr/sbin/blkid; do copy_with_libs "$bin"; done
ln -s mke2fs "$t/usr/sbin/mkfs.ext4"
cp "$rootfs/etc/mke2fs.conf" "$t/etc/mke2fs.conf"
mkdir -p "$(dirname "$out")"
(cd "$t" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible --quiet) | zstd -q -19 -T0 > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $(du -k "$out" | cut -f1) KiB ($(wc -l < "$t/lib/modules/load-order") modules, kernel $kver)" >&2
