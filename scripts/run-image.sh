#!/usr/bin/env bash
# `make run`: boots keel's image in qemu (TCG) with a cloud-config (default
# cloud-config/examples/demo.yaml) on a NoCloud seed, the serial console on this terminal,
# SSH forwarded to a free port on 127.0.0.1 and the demo's web port (guest 8080) to
# 127.0.0.1:8080, or a free port when 8080 is taken. Builds the image first when it is missing.
# Each run starts from a fresh copy-on-write overlay of build/keel.img (so it is a first
# boot); KEEL_RUN_KEEP=1 keeps the previous overlay (a second boot of the same host).
#   KEEL_RUN_CONFIG=FILE  another cloud-config      KEEL_RUN_UEFI=1  boot through OVMF + systemd-boot
#   KEEL_RUN_DISK_MIB=N   disk size (default 8192)  KEEL_RUN_MEM_MIB=N  memory (default 1536)
#   KEEL_RUN_WEB_PORT=N   host port for the guest's 8080 (default 8080, else a free one)
#   KEEL_RUN_CPUS=N       virtual CPUs (default 2; TCG runs one host thread per vCPU)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${KEEL_RUN_CONFIG:-cloud-config/examples/demo.yaml}
dir=.cache/run-image
[ -f build/keel.img ] && [ -f build/vmlinuz ] && [ -f build/initramfs.img ] || make image
[ -f "$config" ] || { echo "run-image: $config does not exist; nothing to boot with" >&2; exit 1; }
mkdir -p "$dir"

# An SSH key of this checkout, plus the user's own public keys, go to the default user
# `core` through the seed's meta-data (the cloud-config itself is used unchanged).
[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C keel-run -f "$dir/id_ed25519"
keys=$(for k in "$dir/id_ed25519.pub" ~/.ssh/id_*.pub; do [ -f "$k" ] && sed 's/^/  - /' "$k"; done; true)
instance=run-$(date +%s)
mkdir -p "$dir/seed" && rm -f "$dir/seed"/*
cp "$config" "$dir/seed/user-data"
printf 'instance-id: %s\nlocal-hostname: keel\npublic-keys:\n%s\n' "$instance" "$keys" > "$dir/seed/meta-data"
genisoimage -quiet -output "$dir/seed.iso" -volid cidata -joliet -rock "$dir/seed/user-data" "$dir/seed/meta-data"

if [ "${KEEL_RUN_KEEP:-}" != 1 ] || [ ! -f "$dir/disk.qcow2" ]; then
  rm -f "$dir/disk.qcow2" "$dir/OVMF_VARS.fd"
  qemu-img create -q -f qcow2 -b "$PWD/build/keel.img" -F raw "$dir/disk.qcow2" "${KEEL_RUN_DISK_MIB:-8192}M"
fi

# A port on 127.0.0.1: the one asked for when it is free, else one the kernel picks.
free_port() {
  node -e "const n=require('net');const t=(p,f)=>{const s=n.createServer();s.once('error',f);s.listen(p,'127.0.0.1',()=>{console.log(s.address().port);s.close()})};t(+process.argv[1],()=>t(0,()=>process.exit(1)))" "${1:-0}"
}
port=$(free_port)
web_port=$(free_port "${KEEL_RUN_WEB_PORT:-8080}")
[ "$web_port" = "${KEEL_RUN_WEB_PORT:-8080}" ] || echo "== 127.0.0.1:${KEEL_RUN_WEB_PORT:-8080} is taken: the web port is $web_port instead"
if [ "${KEEL_RUN_UEFI:-}" = 1 ]; then
  [ -f "$dir/OVMF_VARS.fd" ] || cp /usr/share/OVMF/OVMF_VARS.fd "$dir/OVMF_VARS.fd"
  boot=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"
    -drive "if=pflash,format=raw,unit=1,file=$dir/OVMF_VARS.fd")
  how="UEFI (OVMF, systemd-boot)"
else
  boot=(-kernel build/vmlinuz -initrd build/initramfs.img -append "$(cat build/kernel-cmdline)")
  how="direct kernel boot"
fi

cat <<MSG
== keel $(cat build/release/manifest.json 2>/dev/null | sed -n 's/.*"version": "\(.*\)".*/\1/p' | head -1): $how, cloud-config $config, instance $instance
== ssh:  ssh -i $dir/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p $port core@127.0.0.1
== web:  curl http://127.0.0.1:$web_port/   (the demo's container, once keel-supervisor has started it)
== quit: Ctrl-a x   (the console follows; first boot under TCG takes about a minute)
MSG
qemu=(qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m "${KEEL_RUN_MEM_MIB:-1536}" -smp "${KEEL_RUN_CPUS:-2}"
  -nodefaults -display none -device virtio-rng-pci
  "${boot[@]}"
  -drive "file=$dir/disk.qcow2,format=qcow2,if=none,id=disk0" -device virtio-blk-pci,drive=disk0
  -drive "file=$dir/seed.iso,format=raw,if=none,id=seed,readonly=on" -device virtio-blk-pci,drive=seed
  -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22,hostfwd=tcp:127.0.0.1:$web_port-:8080" -device virtio-net-pci,netdev=net0)
[ "${KEEL_RUN_UEFI:-}" = 1 ] || exec "${qemu[@]}" -serial mon:stdio

# OVMF under TCG can spin forever after a warm reset, so under UEFI a guest reboot ends qemu
# (-no-reboot) and this loop starts it again: a cold boot on the same disk and firmware vars.
# The console is also logged, to tell a reboot from a power-off.
while :; do
  rc=0
  "${qemu[@]}" -no-reboot -chardev "stdio,id=console,mux=on,logfile=$dir/console.log,logappend=off" \
    -serial chardev:console -mon chardev=console,mode=readline || rc=$?
  [ "$rc" = 0 ] && tail -n 20 "$dir/console.log" | grep -q 'reboot: Restarting system' || exit "$rc"
  echo "== the guest rebooted: starting qemu again (a cold boot; ssh stays on port $port)"
done
