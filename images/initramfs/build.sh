#!/usr/bin/env bash
# Assembles keel's initramfs (a zstd-compressed newc cpio): busybox-static with its applets,
# /init (images/initramfs/init), the kernel modules needed to reach disks and mount the
# slot through dm-verity, state and /etc overlay (with their dependencies, in load order), and
# mke2fs, e2fsck, resize2fs, sfdisk and veritysetup with their libraries, all taken from the OS tree so they
# match its kernel and packages. The steps shared with the PXE installer's initramfs are
# in images/initramfs-lib.sh.
# usage: build.sh ROOTFS_DIR OUT_FILE
set -euo pipefail
rootfs=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../initramfs-lib.sh"
initramfs_begin initramfs "$rootfs" sysroot state
initramfs_busybox "$here/init"

# Modules: what a VM or server needs to see its disk, map the slot through dm-verity
# (dm-verity pulls dm-mod, dm-bufio and reed_solomon) and mount keel's filesystems. Every
# one is required: an image that cannot reach its disk must not build.
# The disk controllers are images/hardware.txt's storage family (RAID and SAS included) and
# its usb family (the host controllers usb-storage and uas need, to boot from a USB disk or a
# BMC's virtual media; the keyboard drivers for the emergency shell).
# /init loads the filesystems and dm-verity (no hardware behind them) always, the drivers by
# the modalias of the devices present (hw-table.sh's table), and the whole load order when
# the root partition does not show up or keel.modules=all says so.
always=(dm-verity erofs squashfs overlay ext4 crc32c_generic)
hardware=(virtio_pci $(hardware_modules storage usb))
initramfs_modules require "${hardware[@]}" "${always[@]}"
deps_of() { # MODULE...: their module files and dependencies as load-order names
  local m
  for m in "$@"; do modprobe -d "$rootfs" -S "$kver" --show-depends "$m"; done \
    | awk -v k="/modules/$kver/" '$1 == "insmod" { p = $2; sub(".*" k, "", p); sub(/\.(xz|zst)$/, "", p); if (!seen[p]++) print p }'
}
deps_of "${always[@]}" | awk 'FNR == NR { a[$0] = 1; next } $0 in a' - "$t/lib/modules/load-order" > "$t/lib/modules/always"
while IFS= read -r ko; do
  grep -qxF "$ko" "$t/lib/modules/always" && continue
  m=${ko##*/}; m=${m%.ko}
  echo "$m $(deps_of "$m" | tr '\n' ' ')"
done < "$t/lib/modules/load-order" | "$here/hw-table.sh" "$rootfs/usr/lib/modules/$kver/modules.alias" > "$t/lib/modules/hw-table.sh"
install -m 0644 "$here/modalias.sh" "$t/lib/modules/modalias.sh"

# e2fsprogs, sfdisk and blkid (busybox-static has none that know GPT resizing or erofs) and
# veritysetup (cryptsetup-bin: maps the slot through dm-verity) with the shared libraries ldd
# names inside the OS tree.
for bin in /usr/sbin/mke2fs /usr/sbin/e2fsck /usr/sbin/resize2fs /usr/sbin/sfdisk /usr/sbin/blkid /usr/sbin/veritysetup; do
  initramfs_copy_with_libs "$rootfs" "$bin" "$bin"
done
ln -s mke2fs "$t/usr/sbin/mkfs.ext4"
cp "$rootfs/etc/mke2fs.conf" "$t/etc/mke2fs.conf"
# zstd -19: a small tree (~3.6 MiB packed) that every boot reads from the ESP.
initramfs_pack "$out" 19
