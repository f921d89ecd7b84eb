#!/usr/bin/env bash
# cloud-config: for every file in cloud-config/examples/, process-to-process times of
#   keel cloud-config validate F                        (this bundle, ./bin/keel)
#   keel cloud-config apply --root DIR --from-file F    (into a fresh empty root each run)
#   cloud-init schema --config-file F                   (Debian's cloud-init, the peer)
# N runs each (BENCH_RUNS, default 10): median wall ms, and median CPU ms (user+sys) in
# brackets, which a loaded machine disturbs less. ratio = cloud-init / keel validate, wall.
# cloud-init is installed here with apt-get when missing (not in deps/*.apt: tests never need it).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-10}
[ -f bin/keel.mjs ] || node scripts/build.mjs

need() { # need COMMAND PACKAGE: apt-get install PACKAGE when COMMAND is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2 (apt-get) for the bench..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null || echo "bench: could not install $2" >&2
}
need cloud-init cloud-init
need /usr/bin/time time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median MODE CMD…: runs CMD $runs times; prints "WALL (CPU)" medians in ms. An argument @ROOT@
# becomes a fresh directory for each run, empty but for a stand-in etcd.service. MODE strict:
# prints "failed" when a run exits non-zero; tolerant: times it anyway, marked *.
median() {
  local mode=$1 mark='' i root
  shift
  : >"$work/times"
  for ((i = 0; i < runs; i++)); do
    root=$(mktemp -d "$work/root.XXXX")
    # The image's (disabled) etcd.service, which a config with etcd settings enables.
    mkdir -p "$root/lib/systemd/system" && printf '[Service]\nExecStart=/usr/bin/etcd\n[Install]\nWantedBy=multi-user.target\n' >"$root/lib/systemd/system/etcd.service"
    if ! /usr/bin/time -f '%e %U %S' -o "$work/t" "${@//@ROOT@/$root}" >"$work/out" 2>&1; then
      cp "$work/out" "$work/last-failure"
      if [ "$mode" = strict ]; then echo failed; return 0; fi
      mark='*'
    fi
    tail -n 1 "$work/t" >>"$work/times"
  done
  awk -v mark="$mark" '
    function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                     return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    { w[NR] = $1 * 1000; c[NR] = ($2 + $3) * 1000 }
    END { printf "%d%s (%d)\n", med(w, NR), mark, med(c, NR) }' "$work/times"
}

echo "cloud-config: median of $runs runs, process to process, ms wall (cpu); $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-26s %16s %16s %20s %7s\n' file 'keel validate' 'keel apply' 'cloud-init schema' ratio
status=0
for f in cloud-config/examples/*.yaml; do
  v=$(median strict ./bin/keel cloud-config validate "$f")
  [ "$v" = failed ] && { echo "bench: keel validate failed on $f:" >&2; cat "$work/last-failure" >&2; status=1; }
  a=$(median strict ./bin/keel cloud-config apply --root @ROOT@ --from-file "$f")
  [ "$a" = failed ] && { echo "bench: keel apply failed on $f (last lines):" >&2; tail -n 3 "$work/last-failure" >&2; }
  c=n/a
  command -v cloud-init >/dev/null 2>&1 && c=$(median tolerant cloud-init schema --config-file "$f")
  ratio=n/a
  vw=${v%% *}; cw=${c%% *}; cw=${cw%\*}
  if [[ "$vw" =~ ^[0-9]+$ && "$cw" =~ ^[0-9]+$ ]]; then ratio=$(awk -v c="$cw" -v v="$vw" 'BEGIN {printf "%.2fx", c / v}'); fi
  printf '%-26s %16s %16s %20s %7s\n' "$(basename "$f")" "$v" "$a" "$c" "$ratio"
done
echo "ratio = cloud-init schema / keel validate, wall (above 1: keel is faster); * = cloud-init called the file invalid but ran its full check"
exit $status
