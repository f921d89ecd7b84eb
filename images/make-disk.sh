#!/usr/bin/env bash
# Assembles build/keel.img without loop mounts: partition a sparse file with sgdisk, build
# each filesystem as its own file (vfat filled with mtools, the slot image as given, ext4 for
# state) and dd them into place. The ESP gets systemd-boot as the removable-media loader,
# loader.conf, one boot entry for slot A (no try counter: the shipped image is known good)
# and slot A's kernel and initramfs under /keel/a/. The entry carries the slot's dm-verity root
# hash and hash offset (keel.verity=, from SLOT.img.verity.json made by images/make-slot.sh): the
# initramfs maps the slot through dm-verity and refuses to mount it otherwise.
# usage: make-disk.sh OUT.img SLOT.img VMLINUZ INITRAMFS SYSTEMD_BOOT_EFI VERSION MKE2FS_CONF
set -euo pipefail
out=$1 slot=$2 vmlinuz=$3 initramfs=$4 sdboot=$5 version=$6 mke2fs_conf=$7
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=layout.env
. "$here/layout.env"
mib=$((1024 * 1024))
slot_bytes=$(stat -c %s "$slot")
verity=$("$here/verity-cmdline.sh" "$slot.verity.json")
((slot_bytes <= SLOT_MIB * mib)) || { echo "make-disk: slot image is $((slot_bytes / mib)) MiB, the slot partition $SLOT_MIB MiB; refusing" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/keel-disk.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ESP
esp=$work/esp.img
truncate -s $((ESP_MIB * mib)) "$esp"
mkfs.vfat -F 32 -n "${ESP_LABEL:0:11}" "$esp" >/dev/null
cat > "$work/loader.conf" <<CONF
timeout 0
editor no
console-mode keep
auto-entries no
auto-firmware no
CONF
cat > "$work/entry.conf" <<CONF
title keel $version (slot a)
version $version
sort-key keel
linux /keel/a/vmlinuz
initrd /keel/a/initramfs.img
options $KERNEL_CMDLINE keel.slot=a $verity
CONF
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/keel ::/keel/a ::/keel/b
mcopy -i "$esp" "$sdboot" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$work/entry.conf" "::/loader/entries/keel-$version.conf"
mcopy -i "$esp" "$vmlinuz" ::/keel/a/vmlinuz
mcopy -i "$esp" "$initramfs" ::/keel/a/initramfs.img

# state: a small empty ext4 with Debian 12's mke2fs defaults; it grows on first boot
state=$work/state.img
truncate -s $((STATE_MIB * mib)) "$state"
MKE2FS_CONFIG=$mke2fs_conf mke2fs -q -F -t ext4 -T default -L "$STATE_LABEL" -E lazy_itable_init=1 "$state"

# GPT
total=$((1 + ESP_MIB + 2 * SLOT_MIB + STATE_MIB + 1))
rm -f "$out.tmp"
truncate -s $((total * mib)) "$out.tmp"
sgdisk \
  -n "1:2048:+${ESP_MIB}M" -t 1:EF00 -c "1:$ESP_LABEL" \
  -n "2:0:+${SLOT_MIB}M" -t 2:8300 -c "2:$SLOT_A_LABEL" \
  -n "3:0:+${SLOT_MIB}M" -t 3:8300 -c "3:$SLOT_B_LABEL" \
  -n "4:0:+${STATE_MIB}M" -t 4:8300 -c "4:$STATE_LABEL" \
  "$out.tmp" >/dev/null
put() { dd if="$1" of="$out.tmp" bs=1M seek="$2" conv=notrunc,sparse status=none; }
put "$esp" 1
put "$slot" $((1 + ESP_MIB))
put "$state" $((1 + ESP_MIB + 2 * SLOT_MIB))
mv "$out.tmp" "$out"
echo "make-disk: $out $((total)) MiB ($(du -m "$out" | cut -f1) MiB allocated): ESP $ESP_MIB, slots 2 x $SLOT_MIB, state $STATE_MIB MiB" >&2
