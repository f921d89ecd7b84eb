#!/usr/bin/env bash
# What dm-verity costs a keel host (issue 15; goal: at most 5 % of boot time). The same built
# image (build/keel.img), the same kernel and initramfs, booted directly under TCG (1 vCPU,
# 1 GiB) with the image's own command line (slot A through dm-verity) and with keel.verity=off
# (the slot's erofs mounted straight from the partition, the hash area ignored), the same
# NoCloud seed (a sudo user with the harness's SSH key). Per boot: time to the ready marker
# (seconds after qemu started, and the guest's uptime then), the initramfs' verity step
# (state mounted → slot mounted), and a cold read of the whole /usr tree (page cache dropped,
# tar into a pipe). Boots alternate verity / off; the first pair is thrown away (cold host
# caches), then BENCH_VERITY_BOOTS pairs (default 3) are averaged.
# Needs `make image` and root.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bench=$repo/.cache/bench/verity
mkdir -p "$bench"
for f in build/keel.img build/vmlinuz build/initramfs.img build/kernel-cmdline; do
  [ -f "$f" ] || { echo "verity bench: $f is missing: run make image" >&2; exit 1; }
done
cmdline=$(cat build/kernel-cmdline)
grep -q 'keel\.verity=[0-9a-f]\{64\}' <<<"$cmdline" || { echo "verity bench: build/kernel-cmdline has no keel.verity= root hash: rebuild the image" >&2; exit 1; }
off=$(sed 's/keel\.verity=[0-9a-f]*/keel.verity=off/' <<<"$cmdline")

npx esbuild bench/lib/verity-boot.ts --bundle --platform=node --format=esm --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" --outfile="$bench/verity-boot.mjs"

declare -A sum cnt
add() { sum[$1]=$(awk -v a="${sum[$1]:-0}" -v b="$2" 'BEGIN { print a + b }'); cnt[$1]=$((${cnt[$1]:-0} + 1)); }
mean() { [ -n "${cnt[$1]:-}" ] && awk -v s="${sum[$1]}" -v n="${cnt[$1]}" 'BEGIN { printf "%.2f", s / n }' || echo n/a; }
ratio() { awk -v k="$1" -v r="$2" 'BEGIN { if (k ~ /^[0-9.]+$/ && r ~ /^[0-9.]+$/ && r > 0) printf "%.3f", k / r; else print "n/a" }'; }
pct() { awk -v k="$1" -v r="$2" -v b="$3" 'BEGIN { if (k ~ /^[0-9.]+$/ && r ~ /^[0-9.]+$/ && b > 0) printf "%+.1f %%", (k - r) * 100 / b; else print "n/a" }'; }
row() { printf '  %-46s %10s %10s %8s %10s\n' "$@"; }
field() { node -e 'const r = JSON.parse(process.argv[1]); const v = r[process.argv[2]]; console.log(process.argv[2] === "readyMs" ? (v / 1000).toFixed(2) : v)' "$1" "$2"; }

rounds=${BENCH_VERITY_BOOTS:-3} spread_ready='' spread_read=''
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 0 "$rounds"); do
  for kind in verity off; do
    append=$cmdline
    [ "$kind" = off ] && append=$off
    out=$(KEEL_REPO=$repo node "$bench/verity-boot.mjs" "verity-$kind" "$repo/build/keel.img" "$repo/build/vmlinuz" "$repo/build/initramfs.img" "$append")
    echo "verity bench: $kind round $round: $out (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    [ "$round" = 0 ] && continue
    for f in readyMs readyUptimeS mappedS usrReadS usrBytes; do add "$kind:$f" "$(field "$out" "$f")"; done
    # Each pair's own difference, so the spread (other jobs on the machine) shows beside the mean.
    if [ "$kind" = verity ]; then vready=$(field "$out" readyMs) vread=$(field "$out" usrReadS); else
      spread_ready+=" $(awk -v a="$vready" -v b="$(field "$out" readyMs)" 'BEGIN { printf "%+.1f", a - b }')"
      spread_read+=" $(awk -v a="$vread" -v b="$(field "$out" usrReadS)" 'BEGIN { printf "%+.1f", a - b }')"
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "dm-verity cost (same image and boot, keel.verity=off beside it; TCG, 1 vCPU, 1 GiB, direct kernel boot)"
echo "mean of $rounds alternating pairs after one thrown away; load $load_before before, $load_after after"
row "" verity off ratio "of boot"
vr=$(mean verity:readyMs) or=$(mean off:readyMs)
row "ready, s after qemu started" "$vr" "$or" "$(ratio "$vr" "$or")" "$(pct "$vr" "$or" "$or")"
vu=$(mean verity:readyUptimeS) ou=$(mean off:readyUptimeS)
row "ready, guest uptime (s)" "$vu" "$ou" "$(ratio "$vu" "$ou")" "$(pct "$vu" "$ou" "$ou")"
vm_=$(mean verity:mappedS) om=$(mean off:mappedS)
row "initramfs: state mounted -> slot mounted (s)" "$vm_" "$om" "$(ratio "$vm_" "$om")" "$(pct "$vm_" "$om" "$or")"
vc=$(mean verity:usrReadS) oc=$(mean off:usrReadS)
row "cold read of /usr, tar | wc (s)" "$vc" "$oc" "$(ratio "$vc" "$oc")" ""
echo "  verity - off, pair by pair (s): ready after qemu start$spread_ready; cold /usr read$spread_read"
echo "  /usr read: $(awk -v b="$(mean off:usrBytes)" 'BEGIN { printf "%.0f", b / 1048576 }') MiB as tar; goal: verity costs at most 5 % of boot time (the 'of boot' column of the ready rows)"
