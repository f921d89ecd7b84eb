#!/usr/bin/env bash
# keel's image beside a plain Debian + cloud-init image made from the same Debian 12
# packages (images/packages.txt, plus cloud-init, initramfs-tools and python3-cffi-backend,
# a virtual dependency debootstrap cannot resolve by itself, for the reference):
#   1. image build time, clean (from the cached debootstrap base) and incremental (a new
#      keel executable), in a private build dir so the tree's build/ is left alone;
#   2. the compressed OS size: keel's slot (erofs lz4hc) beside the reference root tree
#      packed the same way;
#   3. first boot under TCG (1 vCPU, 1 GiB), direct kernel boot and UEFI (OVMF; keel's
#      systemd-boot ESP, the reference's own ESP with systemd-boot), the same NoCloud seed
#      (hostname, a user, a file, a runcmd printing a report line to the console): the report
#      line, multi-user, and a bare boot of each image (keel-cloudinit masked; cloud-init
#      disabled) to give each one's cost over a bare boot. Boots interleave keel, reference,
#      keel bare, reference bare; the first round is thrown away (cold host caches), then
#      BENCH_BOOTS rounds (default 3) are averaged. Times are seconds after qemu started.
# Knobs: BENCH_BOOTS=N, BENCH_MODES="direct uefi", BENCH_IMAGE_BUILD=0 (boot the tree's
# build/ outputs as they are: no build timing, no private build).
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
if [ "${BENCH_IMAGE_BUILD:-1}" = 0 ]; then
  kb=$repo/build
  [ -f "$kb/keel.img" ] || { echo "image bench: BENCH_IMAGE_BUILD=0 but build/keel.img is missing: run make image" >&2; exit 1; }
  keel_clean=n/a keel_incr=n/a
else
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
fi
keel_slot=$(stat -c %s "$kb/slot-a.img")

# --- reference: debootstrap (cached), then a plain ext4 disk with cloud-init
pkgs=$( (sed 's/#.*//' images/packages.txt; echo cloud-init initramfs-tools python3-cffi-backend) | tr -s ' \n' '\n' | grep -v '^$' | sort -u | paste -sd, -)
key=$(echo "$pkgs" | sha256sum | cut -c1-16)
rbase=$bench/ref-base-$key
if [ ! -f "$rbase/.complete" ]; then
  rm -rf "$rbase" "$rbase.tmp"
  echo "image bench: debootstrap of the reference (once): $pkgs" >&2
  # The components images/debootstrap.sh uses: packages.txt names non-free-firmware packages.
  nice debootstrap --variant=minbase --components=main,non-free-firmware --include="$pkgs" bookworm "$rbase.tmp" "${KEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$bench/ref-debootstrap.log" 2>&1 ||
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
# The reference disk: GPT with an ESP (systemd-boot, the reference's kernel and initrd, one
# entry) and an ext4 root by partition label, so the same disk boots directly and by UEFI.
# ref_esp_entry DISK OPTIONS: (re)writes the boot entry's kernel options.
ref_esp_entry() {
  printf 'title Debian 12 (bench reference)\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$2" > "$bench/ref-entry.conf"
  MTOOLS_SKIP_CHECK=1 mcopy -o -i "$1@@1M" "$bench/ref-entry.conf" ::/loader/entries/ref.conf
}
build_ref() { # the whole reference image from its base: there is no incremental path
  local tree=$bench/ref-tree disk=$bench/ref.img esp=$bench/ref-esp.img root=$bench/ref-root.img
  rm -rf "$tree" && nice cp -a "$rbase" "$tree" && rm -f "$tree/.complete"
  : > "$tree/etc/machine-id"
  echo 'PARTLABEL=ref-root / ext4 rw,noatime 0 1' > "$tree/etc/fstab"
  mkdir -p "$tree/etc/cloud/cloud.cfg.d" "$tree/etc/systemd/network"
  printf 'datasource_list: [ NoCloud, None ]\nnetwork: {config: disabled}\n' > "$tree/etc/cloud/cloud.cfg.d/90-bench.cfg"
  printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$tree/etc/systemd/network/80-dhcp.network"
  # multi-user alone has its own marker: systemd's own status line is not reliably on the
  # console once cloud-init writes there too.
  marker_unit "$tree" bench-ready 'multi-user.target cloud-final.service' 'ready'
  marker_unit "$tree" bench-multiuser 'multi-user.target' 'multi-user'
  chroot "$tree" systemctl enable bench-ready.service bench-multiuser.service systemd-networkd.service >/dev/null 2>&1
  chroot "$tree" systemctl mask e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer systemd-firstboot.service >/dev/null 2>&1
  local kver
  kver=$(basename "$(ls -d "$tree"/usr/lib/modules/*)")
  rm -f "$esp" "$root" "$disk"
  truncate -s 128M "$esp" && mkfs.vfat -F 32 -n REF-ESP "$esp" >/dev/null
  printf 'timeout 0\neditor no\nconsole-mode keep\ndefault ref.conf\n' > "$bench/ref-loader.conf"
  export MTOOLS_SKIP_CHECK=1
  mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
  mcopy -i "$esp" "$tree/usr/lib/systemd/boot/efi/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI 2>/dev/null ||
    mcopy -i "$esp" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$esp" "$bench/ref-loader.conf" ::/loader/loader.conf
  mcopy -i "$esp" "$tree/boot/vmlinuz-$kver" ::/vmlinuz
  mcopy -i "$esp" "$tree/boot/initrd.img-$kver" ::/initrd.img
  truncate -s 3G "$root" && nice mkfs.ext4 -q -F -L ref-root -d "$tree" "$root"
  truncate -s $((1 + 128 + 3072 + 1))M "$disk"
  sgdisk -n 1:2048:+128M -t 1:EF00 -c 1:REF-ESP -n 2:0:+3072M -t 2:8300 -c 2:ref-root "$disk" >/dev/null
  dd if="$esp" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$root" of="$disk" bs=1M seek=129 conv=notrunc,sparse status=none
  rm -f "$esp" "$root"
  ref_esp_entry "$disk" "$ref_cmdline"
}
ref_cmdline='console=ttyS0,115200 root=PARTLABEL=ref-root rw'
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
    content: "written by cloud-config"
runcmd:
  - 'echo "bench-report: host=$(hostname) user=$(id -un bench) file=$(cat /etc/bench-file)" >/dev/console'
YAML
kver=$(basename "$(ls -d "$bench"/ref-tree/usr/lib/modules/*)")
cmdline=$(cat "$kb/kernel-cmdline" 2>/dev/null || echo 'console=ttyS0,115200 ro keel.slot=a')
keel_mask=systemd.mask=keel-cloudinit.service ref_off=cloud-init=disabled
# Bare UEFI boots need the option in the boot entry: copies of both disks with it added.
cp --sparse=always "$kb/keel.img" "$bench/keel-bare.img"
kentry=$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$bench/keel-bare.img@@1M" ::/loader/entries | head -1)
MTOOLS_SKIP_CHECK=1 mtype -i "$bench/keel-bare.img@@1M" "$kentry" | sed "s|^options .*|& $keel_mask|" > "$bench/keel-bare-entry.conf"
MTOOLS_SKIP_CHECK=1 mcopy -o -i "$bench/keel-bare.img@@1M" "$bench/keel-bare-entry.conf" "$kentry"
cp --sparse=always "$bench/ref.img" "$bench/ref-bare.img"
ref_esp_entry "$bench/ref-bare.img" "$ref_cmdline $ref_off"

report_re='bench-report: host=bench-node user=bench file=written by cloud-config'
declare -A sum cnt
# boot KIND MODE: one boot; adds its report, multi-user and bare figures to sum/cnt (unless
# this is the throw-away round).
boot() {
  local kind=$1 mode=$2 json disk seed=$ud out
  local direct_keel="{\"kind\":\"direct\",\"kernel\":\"$kb/vmlinuz\",\"initrd\":\"$kb/initramfs.img\",\"append\":"
  local direct_ref="{\"kind\":\"direct\",\"kernel\":\"$bench/ref-tree/boot/vmlinuz-$kver\",\"initrd\":\"$bench/ref-tree/boot/initrd.img-$kver\",\"append\":"
  case "$kind:$mode" in
    keel:direct) json="$direct_keel\"$cmdline\"}" disk=$kb/keel.img ;;
    keel-bare:direct) json="$direct_keel\"$cmdline $keel_mask\"}" disk=$kb/keel.img ;;
    ref:direct) json="$direct_ref\"$ref_cmdline\"}" disk=$bench/ref.img ;;
    ref-bare:direct) json="$direct_ref\"$ref_cmdline $ref_off\"}" disk=$bench/ref.img ;;
    keel:uefi) json='{"kind":"uefi"}' disk=$kb/keel.img ;;
    keel-bare:uefi) json='{"kind":"uefi"}' disk=$bench/keel-bare.img ;;
    ref:uefi) json='{"kind":"uefi"}' disk=$bench/ref.img ;;
    ref-bare:uefi) json='{"kind":"uefi"}' disk=$bench/ref-bare.img ;;
  esac
  case "$kind" in
    keel) out=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" "keel-$mode" "$json" "$disk" "$seed" 'keel-boot: ready' "report=$report_re") ;;
    ref) out=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" "ref-$mode" "$json" "$disk" "$seed" 'bench-boot: ready' "report=$report_re" 'multiuser=bench-boot: multi-user') ;;
    keel-bare) out=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" "keel-bare-$mode" "$json" "$disk" "$seed" 'keel-boot: ready') ;;
    ref-bare) out=$(KEEL_REPO=$repo node "$bench/first-boot.mjs" "ref-bare-$mode" "$json" "$disk" "$seed" 'bench-boot: multi-user') ;;
  esac
  echo "image bench: $kind $mode round $round: $out (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  [ "$round" = 0 ] && return 0
  local report multiuser
  report=$(node -e 'const r = JSON.parse(process.argv[1]); const v = r.marks.report; console.log(v == null ? "" : (v / 1000).toFixed(2))' "$out")
  multiuser=$(node -e 'const r = JSON.parse(process.argv[1]); const v = r.marks.multiuser ?? r.readyMs; console.log((v / 1000).toFixed(2))' "$out")
  add "$kind:$mode:multiuser" "$multiuser"
  [ -n "$report" ] && add "$kind:$mode:report" "$report"
  return 0
}
add() { sum[$1]=$(awk -v a="${sum[$1]:-0}" -v b="$2" 'BEGIN { print a + b }'); cnt[$1]=$((${cnt[$1]:-0} + 1)); }
mean() { [ -n "${cnt[$1]:-}" ] && awk -v s="${sum[$1]}" -v n="${cnt[$1]}" 'BEGIN { printf "%.1f", s / n }' || echo n/a; }
diff_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%.1f", a - b; else print "n/a" }'; }

modes=${BENCH_MODES:-direct uefi} rounds=${BENCH_BOOTS:-3}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for mode in $modes; do
  for round in $(seq 0 "$rounds"); do
    for kind in keel ref keel-bare ref-bare; do boot "$kind" "$mode"; done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "image (keel vs Debian 12 + cloud-init, same packages; TCG, 1 vCPU, 1 GiB)"
row "" keel reference ratio
row "build, clean from cached debootstrap (s)" "$keel_clean" "$ref_build" "$(ratio "$keel_clean" "$ref_build")"
row "build, incremental: new keel executable (s)" "$keel_incr" "$ref_build" "$(ratio "$keel_incr" "$ref_build")"
row "OS image, erofs lz4hc (MiB)" "$((keel_slot / mib))" "$((ref_slot / mib))" "$(ratio "$keel_slot" "$ref_slot")"
echo "  (reference build has no incremental path: both rows are its full assembly from the cached base)"
echo "first boot, same NoCloud seed; seconds after qemu started, mean of $rounds interleaved boots after one thrown away; load $load_before before, $load_after after"
row "" keel reference ratio
for mode in $modes; do
  kr=$(mean "keel:$mode:report") rr=$(mean "ref:$mode:report")
  km=$(mean "keel:$mode:multiuser") rm_=$(mean "ref:$mode:multiuser")
  kb_=$(mean "keel-bare:$mode:multiuser") rb=$(mean "ref-bare:$mode:multiuser")
  kc=$(diff_of "$kr" "$kb_") rc=$(diff_of "$rr" "$rb")
  row "$mode: report line printed by runcmd" "$kr" "$rr" "$(ratio "$kr" "$rr")"
  row "$mode: multi-user reached" "$km" "$rm_" "$(ratio "$km" "$rm_")"
  row "$mode: bare boot (no cloud-config) multi-user" "$kb_" "$rb" "$(ratio "$kb_" "$rb")"
  row "$mode: report minus own bare boot" "$kc" "$rc" "$(ratio "$kc" "$rc")"
done
echo "  (goals: report ratio <= 0.40, keel's report minus its bare boot <= 5 s)"
