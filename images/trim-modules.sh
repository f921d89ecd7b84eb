#!/usr/bin/env bash
# Keeps only the kernel modules a keel host uses: the drivers images/hardware.txt lists (server
# and VM NICs, disk controllers, USB, platform) with their dependencies, the filesystems keel mounts (ext4, erofs, squashfs, overlay, vfat, iso9660 for cidata
# seeds, fuse), the network stack podman and netavark need (bridge, veth, netfilter, nft,
# vxlan...), crypto and libraries. Sound, graphics, wireless, media, infiniband and the
# like go (most of the ~400 MiB of modules). Firmware under usr/lib/firmware is kept only
# where a kept module names it (modinfo -F firmware), so whole firmware packages can be
# installed for the few files the listed drivers load.
# usage: trim-modules.sh /usr/lib/modules/<kver> (inside a rootfs, before depmod)
set -euo pipefail
dir=$1/kernel
hardware=$(cd "$(dirname "$0")" && pwd)/hardware.txt
keep=(
  'arch/*' 'crypto/*' 'lib/*' 'block/*' 'mm/*' 'security/*' 'virt/*'
  'fs/ext4/*' 'fs/jbd2/*' 'fs/mbcache.ko' 'fs/erofs/*' 'fs/squashfs/*' 'fs/overlayfs/*'
  'fs/fat/*' 'fs/nls/*' 'fs/efivarfs/*' 'fs/fuse/*' 'fs/autofs/*' 'fs/isofs/*' 'fs/binfmt_misc.ko'
  'fs/netfs/*' 'fs/fscache/*'
  'net/*'
  'drivers/virtio/*' 'drivers/block/*' 'drivers/nvme/*' 'drivers/char/*' 'drivers/cdrom/*'
  'drivers/scsi/virtio_scsi.ko' 'drivers/scsi/sd_mod.ko' 'drivers/scsi/sr_mod.ko' 'drivers/scsi/sg.ko'
  'drivers/scsi/scsi_mod.ko' 'drivers/scsi/scsi_common.ko'
  'drivers/ata/ahci.ko' 'drivers/ata/libahci.ko' 'drivers/ata/libata.ko' 'drivers/ata/ata_piix.ko'
  'drivers/net/virtio_net.ko' 'drivers/net/net_failover.ko' 'drivers/net/tun.ko' 'drivers/net/veth.ko'
  'drivers/net/macvlan.ko' 'drivers/net/macvtap.ko' 'drivers/net/ipvlan/*' 'drivers/net/vxlan/*'
  'drivers/net/geneve.ko' 'drivers/net/dummy.ko' 'drivers/net/bonding/*' 'drivers/net/wireguard/*'
  'drivers/net/tap.ko' 'drivers/net/ethernet/intel/e1000/*' 'drivers/net/ethernet/intel/e1000e/*'
  'drivers/net/ethernet/realtek/*' 'drivers/net/vmxnet3/*' 'drivers/net/hyperv/*'
  'drivers/md/dm-mod.ko' 'drivers/md/dm-verity.ko' 'drivers/md/dm-bufio.ko'
  'drivers/input/*' 'drivers/hid/hid.ko' 'drivers/hid/hid-generic.ko'
  'drivers/firmware/*' 'drivers/acpi/*' 'drivers/platform/x86/*' 'drivers/ptp/*' 'drivers/pps/*'
  'drivers/watchdog/i6300esb.ko' 'drivers/watchdog/softdog.ko' 'drivers/rtc/*' 'drivers/vhost/*'
)
drop=('net/wireless/*' 'net/mac80211/*' 'net/bluetooth/*' 'net/nfc/*' 'net/ieee802154/*'
  'net/mac802154/*' 'net/6lowpan/*' 'net/can/*' 'net/ceph/*' 'net/rxrpc/*' 'net/sunrpc/*'
  'net/batman-adv/*' 'net/atm/*' 'net/appletalk/*' 'net/x25/*' 'net/lapb/*' 'net/phonet/*'
  'net/rds/*' 'net/tipc/*' 'net/dccp/*' 'net/smc/*' 'net/9p/*' 'net/rfkill/*' 'net/dsa/*'
  'net/caif/*' 'net/qrtr/*' 'net/hsr/*' 'net/mptcp/*' 'net/l2tp/*' 'net/mctp/*' 'net/nsh/*')
# The listed drivers and what they depend on, from the untrimmed tree's modules.dep (paths
# relative to $dir); a listed driver that is neither a module nor built in stops the build.
declare -A listed=()
while IFS= read -r rel; do listed[$rel]=1; done < <(awk '
  FNR == NR { if ($0 !~ /^#/ && NF >= 2) { n = $2; gsub(/-/, "_", n); want[n] = $2 }; next }
  { b = $1; sub(/:$/, "", b); sub(/.*\//, "", b); sub(/\.ko.*/, "", b); gsub(/-/, "_", b)
    if (b in want) { found[b] = 1; for (i = 1; i <= NF; i++) { f = $i; sub(/:$/, "", f); sub(/^kernel\//, "", f); print f } } }
  END { for (n in want) if (!(n in found)) print "missing " want[n] }' "$hardware" "$1/modules.dep")
for rel in "${!listed[@]}"; do
  [[ $rel == missing\ * ]] || continue
  unset "listed[$rel]"
  m=${rel#missing }
  grep -qE "/${m//[-_]/[-_]}\.ko" "$1/modules.builtin" \
    || { echo "trim-modules: $m (images/hardware.txt) is not a module or built into kernel $(basename "$1"); cannot build" >&2; exit 1; }
done

before=$(du -sm "$dir" | cut -f1)
declare -A kept=()
while IFS= read -r -d '' ko; do
  rel=${ko#"$dir"/}
  ok=''
  for p in "${keep[@]}"; do [[ $rel == $p ]] && { ok=1; break; }; done
  for p in "${drop[@]}"; do [[ $rel == $p ]] && { ok=''; break; }; done
  [ -n "${listed[$rel]:-}" ] && ok=1
  if [ -n "$ok" ]; then kept[$rel]=1; fi
done < <(find "$dir" -name '*.ko*' -print0)
# A kept module whose dependency the globs left out can never load (kvm_amd without ccp:
# `Unknown symbol sev_*`): keep the dependencies too. modules.dep lists each module's whole
# closure, so one pass over the untrimmed tree's file is enough.
added=0
while IFS= read -r rel; do
  [ -n "${kept[$rel]:-}" ] && continue
  kept[$rel]=1
  added=$((added + 1))
done < <(for rel in "${!kept[@]}"; do echo "kernel/$rel"; done | awk '
  FNR == NR { want[$0] = 1; next }
  { m = $1; sub(/:$/, "", m); if (m in want) for (i = 2; i <= NF; i++) { d = $i; sub(/^kernel\//, "", d); print d } }' - "$1/modules.dep")
while IFS= read -r -d '' ko; do
  [ -n "${kept[${ko#"$dir"/}]:-}" ] || rm -f "$ko"
done < <(find "$dir" -name '*.ko*' -print0)
find "$dir" -type d -empty -delete
# What is left must load: every dependency of every module is still a file.
missing=$(cd "$1" && find kernel -name '*.ko*' | awk '
  FNR == NR { have[$0] = 1; next }
  { m = $1; sub(/:$/, "", m); if (m in have) for (i = 2; i <= NF; i++) if (!($i in have)) print m " needs " $i }' - modules.dep)
[ -z "$missing" ] || { echo "trim-modules: kept modules lack dependencies; cannot build:" >&2; echo "$missing" >&2; exit 1; }
echo "trim-modules: $before MiB -> $(du -sm "$dir" | cut -f1) MiB of modules ($added added as dependencies of kept ones)" >&2

# Firmware: only the files the kept modules load (a symlink's target too).
fw=$(dirname "$(dirname "$1")")/firmware
[ -d "$fw" ] || exit 0
fw_before=$(du -sk "$fw" | cut -f1)
declare -A wanted=()
while IFS= read -r name; do
  [ -n "$name" ] || continue
  wanted[$name]=1
  [ -L "$fw/$name" ] && [ -e "$fw/$name" ] && wanted[$(realpath --relative-to="$fw" "$fw/$name")]=1
done < <(find "$dir" -name '*.ko*' -print0 | xargs -0 -r modinfo -F firmware 2>/dev/null | sort -u)
while IFS= read -r -d '' f; do
  rel=${f#"$fw"/}
  name=${rel%.xz}; name=${name%.zst}
  [ -n "${wanted[$name]:-}" ] || rm -f "$f"
done < <(find "$fw" \( -type f -o -type l \) -print0)
find "$fw" -type d -empty -delete
echo "trim-modules: $fw_before KiB -> $(du -sk "$fw" 2>/dev/null | cut -f1 || echo 0) KiB of firmware" >&2
