#!/usr/bin/env bash
# keel's image beside a plain Debian + cloud-init image made from the same Debian 12
# packages (images/packages.txt, plus cloud-init, initramfs-tools and python3-cffi-backend,
# a virtual dependency debootstrap cannot resolve by itself, for the reference):
#   1. image build time, clean (from the cached debootstrap base) and incremental (a new
#      keel executable), in a private build dir so the tree's build/ is left alone;
#   2. the compressed OS size: keel's slot (erofs lz4hc) beside the reference root tree
#      packed the same way;
#   3. first boot to ready under TCG (qemu direct kernel boot, NoCloud seed with the same
#      user-data): keel's `keel-boot: ready` (cloud-config applied, multi-user reached)
#      beside the reference's marker unit after multi-user.target and cloud-final.service.
# The reference's debootstrap is cached under .cache/bench/image/. Needs root and network
# access to the Debian mirror the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bench=$repo/.cache/bench/image
mkdir -p "$bench"
mib=$((1024 * 1024))
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v k="$1" -v r="$2" 'BEGIN { if (k ~ /^[0-9.]+$/ && r ~ /^[0-9.]+$/ && r > 0) printf "%.2f", k / r; else print "n/a" }'; }
row() { printf '  %-44s %12s %12s %8s\n' "$@"; }

make -s keel-sea >/dev/null

# --- 1. keel: build in a private BUILD/IMAGE_CACHE (the debootstrap base is shared and cached)
kb=$bench/keel-build kc=$bench/keel-cache
rm -rf "$kb" "$kc"
mkdir -p "$kb"
cp -p build/keel "$kb/keel"
t0=$(now)
nice make -s BUILD="$kb" IMAGE_CACHE="$kc" "$kb/keel.img" >"$bench/keel-clean.log" 2>&1 || { tail -20 "$bench/keel-clean.log"; exit 1; }
t1=$(now)
touch "$kb/keel"
nice make -s BUILD="$kb" IMAGE_CACHE="$kc" "$kb/keel.img" >"$bench/keel-incr.log" 2>&1 || { tail -20 "$bench/keel-incr.log"; exit 1; }
t2=$(now)
keel_clean=$(secs "$t0" "$t1") keel_incr=$(secs "$t1" "$t2")
keel_slot=$(stat -c %s "$kb/slot-a.img")

# --- reference: debootstrap (cached), then a plain ext4 disk with cloud-init
pkgs=$( (sed 's/#.*//' images/packages.txt; echo cloud-init initramfs-tools python3-cffi-backend) | tr -s ' \n' '\n' | grep -v '^$' | sort -u | paste -sd, -)
key=$(echo "$pkgs" | sha256sum | cut -c1-16)
rbase=$bench/ref-base-$key
if [ ! -f "$rbase/.complete" ]; then
  rm -rf "$rbase" "$rbase.tmp"
  echo "image bench: debootstrap of the reference (once): $pkgs" >&2
  nice debootstrap --variant=minbase --include="$pkgs" bookworm "$rbase.tmp" "${KEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$bench/ref-debootstrap.log" 2>&1 ||
    { tail -20 "$bench/ref-debootstrap.log"; echo "image bench: reference debootstrap failed" >&2; exit 1; }
  mv "$rbase.tmp" "$rbase" && touch "$rbase/.complete"
fi
# marker_unit TREE NAME AFTER WORD: a oneshot that prints `bench-boot: WORD uptime=…s` on
# the console once AFTER is reached.
marker_unit() {
  cat > "$1/etc/systemd/system/$2.service" <<UNIT
[Unit]
After=$3
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'read up _ </proc/uptime; echo "bench-boot: $4 uptime=\$\${up}s"'
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
UNIT
}
build_ref() { # the whole reference image from its base: there is no incremental path
  local tree=$bench/ref-tree disk=$bench/ref.img
  rm -rf "$tree" && nice cp -a "$rbase" "$tree" && rm -f "$tree/.complete"
  : > "$tree/etc/machine-id"
  echo '/dev/vda / ext4 rw,noatime 0 1' > "$tree/etc/fstab"
  mkdir -p "$tree/etc/cloud/cloud.cfg.d" "$tree/etc/systemd/network"
  printf 'datasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n' > "$tree/etc/cloud/cloud.cfg.d/90-bench.cfg"
  printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$tree/etc/systemd/network/80-dhcp.network"
  # multi-user alone has its own marker: systemd's own status line is not reliably on the
  # console once cloud-init writes there too.
  marker_unit "$tree" bench-ready 'multi-user.target cloud-final.service' 'ready'
  marker_unit "$tree" bench-multiuser 'multi-user.target' 'multi-user'
  chroot "$tree" systemctl enable bench-ready.service bench-multiuser.service systemd-networkd.service >/dev/null 2>&1
  chroot "$tree" systemctl mask e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer systemd-firstboot.service >/dev/null 2>&1
  rm -f "$disk" && truncate -s 3G "$disk"
  nice mkfs.ext4 -q -F -L ref-root -d "$tree" "$disk"
}
t3=$(now)
build_ref
t4=$(now)
ref_build=$(secs "$t3" "$t4")
rm -f "$bench/ref-root.erofs"
nice mkfs.erofs -zlz4hc --quiet "$bench/ref-root.erofs" "$bench/ref-tree"
ref_slot=$(stat -c %s "$bench/ref-root.erofs")

# --- 3. first boot under TCG, one VM at a time, same user-data
npx esbuild bench/lib/first-boot.ts --bundle --platform=node --format=esm --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" --outfile="$bench/first-boot.mjs"
ud=$bench/user-data
cat > "$ud" <<'YAML'
#cloud-config
hostname: bench-node
users:
  - name: bench
    groups: [sudo]
    shell: /bin/bash
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBenchBen bench
write_files:
  - path: /etc/bench-file
    content: "written by cloud-config\n"
runcmd:
  - echo bench-runcmd > /run/bench-runcmd
YAML
kver=$(basename "$(ls -d "$bench"/ref-tree/usr/lib/modules/*)")
cmdline=$(cat "$kb/kernel-cmdline" 2>/dev/null || echo 'console=ttyS0,115200 ro keel.slot=a')
keel_boot=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" keel "$kb/vmlinuz" "$kb/initramfs.img" "$cmdline" "$kb/keel.img" "$ud" \
  'keel-boot: ready' 'cloudconfig=keel-cloudinit.*(applied|done)|Finished keel' 'multiuser=Reached target.*Multi-User')
ref_boot=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" debian-cloud-init "$bench/ref-tree/boot/vmlinuz-$kver" "$bench/ref-tree/boot/initrd.img-$kver" \
  'console=ttyS0,115200 root=/dev/vda rw' "$bench/ref.img" "$ud" \
  'bench-boot: ready' 'cloudfinal=Cloud-init v\. .* finished at' 'multiuser=bench-boot: multi-user')
ms() { node -e 'const r = JSON.parse(process.argv[1]); const v = process.argv[2] === "ready" ? r.readyMs : r.marks[process.argv[2]]; console.log(v == null ? "n/a" : (v / 1000).toFixed(1))' "$1" "$2"; }

echo "image (keel vs Debian 12 + cloud-init, same packages; TCG, 1 vCPU, 1 GiB)"
row "" keel reference ratio
row "build, clean from cached debootstrap (s)" "$keel_clean" "$ref_build" "$(ratio "$keel_clean" "$ref_build")"
row "build, incremental: new keel executable (s)" "$keel_incr" "$ref_build" "$(ratio "$keel_incr" "$ref_build")"
row "OS image, erofs lz4hc (MiB)" "$((keel_slot / mib))" "$((ref_slot / mib))" "$(ratio "$keel_slot" "$ref_slot")"
row "first boot: multi-user reached (s)" "$(ms "$keel_boot" multiuser)" "$(ms "$ref_boot" multiuser)" "$(ratio "$(ms "$keel_boot" multiuser)" "$(ms "$ref_boot" multiuser)")"
row "first boot: ready, config applied (s)" "$(ms "$keel_boot" ready)" "$(ms "$ref_boot" ready)" "$(ratio "$(ms "$keel_boot" ready)" "$(ms "$ref_boot" ready)")"
row "  reference: cloud-init final stage done (s)" "" "$(ms "$ref_boot" cloudfinal)" ""
echo "  (reference build has no incremental path: both rows are its full assembly from the cached base)"
