#!/usr/bin/env bash
# Builds keel's network installer initramfs (zstd newc cpio): busybox-static, /init
# (images/pxe/init), the modules to reach a network card and a disk (taken from the OS tree
# so they match build/vmlinuz), and the installer itself: keel's single executable with
# sgdisk, mkfs.vfat and mcopy and the libraries they link (from this build host, where the
# single executable was made). The steps shared with the host image's initramfs are in
# images/initramfs-lib.sh.
# usage: build.sh ROOTFS_DIR KEEL_EXECUTABLE OUT_FILE
set -euo pipefail
rootfs=$(cd "$1" && pwd) keel=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../initramfs-lib.sh"
initramfs_begin pxe "$rootfs" tmp
initramfs_busybox "$here/init"
install -m 0755 "$here/udhcpc.script" "$t/etc/udhcpc.script"

# Network cards, disks and USB of VMs and common servers (images/hardware.txt), with the
# firmware they load. A listed driver missing from the OS tree stops the build.
initramfs_modules require virtio_pci af_packet $(hardware_modules nic storage usb)
initramfs_firmware
grep -q virtio_net "$t/lib/modules/load-order" || { echo "pxe: virtio_net not found for kernel $kver in $rootfs; cannot build" >&2; exit 1; }

initramfs_copy_with_libs '' "$keel" /usr/bin/keel
initramfs_copy_with_libs '' "$(command -v sgdisk)" /usr/sbin/sgdisk
initramfs_copy_with_libs '' "$(command -v mkfs.vfat)" /usr/sbin/mkfs.vfat
initramfs_copy_with_libs '' "$(command -v mcopy)" /usr/bin/mcopy
initramfs_copy_with_libs '' "$(command -v blkdiscard)" /usr/sbin/blkdiscard
initramfs_copy_with_libs '' "$(command -v wipefs)" /usr/sbin/wipefs
# mtools converts file names through iconv: glibc's gconv table and the DOS code page.
gconv=/usr/lib/x86_64-linux-gnu/gconv  # glibc's compiled-in path (the initramfs has no merged /usr)
mkdir -p "$t$gconv"
cp -a "$gconv"/gconv-modules "$gconv"/gconv-modules.cache "$gconv"/IBM850.so "$gconv"/IBM437.so "$t$gconv/"
[ -d "$gconv/gconv-modules.d" ] && cp -a "$gconv/gconv-modules.d" "$t$gconv/"
# zstd -10: the tree carries keel's ~85 MiB single executable; -19 is 13% smaller (27.1 vs 31.1 MiB)
# for 14x the CPU (109 s vs 8 s, measured at load ~5).
initramfs_pack "$out" 10
