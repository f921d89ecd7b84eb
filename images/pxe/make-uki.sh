#!/usr/bin/env bash
# One UEFI executable for firmware that network-boots without iPXE (a server's own UEFI PXE
# over TFTP, or UEFI HTTP boot): systemd's EFI stub with the kernel, the installer initramfs
# and the kernel command line as PE sections (.linux, .initrd, .cmdline, .osrel), the layout
# systemd-stub reads. objcopy places each section at an address past the stub's own image
# and past the section before it, rounded up to 64 KiB.
#   usage: make-uki.sh STUB VMLINUZ INITRAMFS CMDLINE-TEXT OUT
set -euo pipefail
stub=$1 kernel=$2 initrd=$3 cmdline=$4 out=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s' "$cmdline" >"$work/cmdline"
printf 'ID=keel\nNAME="keel network installer"\n' >"$work/osrel"

align() { echo $(( ($1 + 0xffff) & ~0xffff )); }
# The first free address: the stub's SizeOfImage (its ImageBase is 0, so VMAs are RVAs).
size=$(objdump -p "$stub" | awk '$1 == "SizeOfImage" { print $2 }')
base=$(objdump -p "$stub" | awk '$1 == "ImageBase" { print $2 }')
[ -n "$size" ] && [ $((16#$base)) -eq 0 ] || { echo "make-uki: $stub: no SizeOfImage or a non-zero ImageBase; refusing" >&2; exit 1; }
at=$(align $((16#$size)))
args=()
for s in osrel:"$work/osrel" cmdline:"$work/cmdline" linux:"$kernel" initrd:"$initrd"; do
  name=${s%%:*} file=${s#*:}
  args+=(--add-section ".$name=$file" --change-section-vma ".$name=$(printf '0x%x' "$at")")
  at=$(align $((at + $(stat -c %s "$file"))))
done
objcopy "${args[@]}" "$stub" "$out.tmp"
mv "$out.tmp" "$out"
