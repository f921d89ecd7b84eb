#!/usr/bin/env bash
# Keeps only the kernel modules a keel host uses: virtio and common VM/server disks and NICs,
# the filesystems keel mounts (ext4, erofs, squashfs, overlay, vfat, iso9660 for cidata
# seeds, fuse), the network stack podman and netavark need (bridge, veth, netfilter, nft,
# vxlan...), crypto and libraries. Sound, graphics, wireless, media, infiniband and the
# like go (most of the ~400 MiB of modules).
# usage: trim-modules.sh /usr/lib/modules/<kver> (inside a rootfs)
set -euo pipefail
dir=$1/kernel
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
before=$(du -sm "$dir" | cut -f1)
while IFS= read -r -d '' ko; do
  rel=${ko#"$dir"/}
  ok=''
  for p in "${keep[@]}"; do [[ $rel == $p ]] && { ok=1; break; }; done
  for p in "${drop[@]}"; do [[ $rel == $p ]] && { ok=''; break; }; done
  [ -n "$ok" ] || rm -f "$ko"
done < <(find "$dir" -name '*.ko*' -print0)
find "$dir" -type d -empty -delete
echo "trim-modules: $before MiB -> $(du -sm "$dir" | cut -f1) MiB of modules" >&2
