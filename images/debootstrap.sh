#!/usr/bin/env bash
# Makes (or reuses) the pristine Debian 12 base of the host image: debootstrap minbase with
# images/packages.txt, cached under .cache/image/base-<hash of the list and this script>/ so
# incremental builds never refetch. Prints the cached directory on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${KEEL_DEBIAN_SUITE:-bookworm}
mirror=${KEEL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pkgs=$(sed 's/#.*//' images/packages.txt | tr -s ' \n' '\n' | grep -v '^$' | sort -u | paste -sd, -)
key=$( (echo "$suite $mirror $pkgs"; cat images/debootstrap.sh) | sha256sum | cut -c1-16)
base=.cache/image/base-$key
if [ -f "$base/.complete" ]; then echo "$base"; exit 0; fi
rm -rf "$base" "$base.tmp"
mkdir -p .cache/image
start=$(date +%s.%N)
echo "debootstrap: $suite minbase + $pkgs" >&2
# non-free-firmware: the firmware packages of packages.txt (hardware.txt's drivers)
debootstrap --variant=minbase --components=main,non-free-firmware --include="$pkgs" "$suite" "$base.tmp" "$mirror" >&2 \
  || { echo "debootstrap: failed, see $base.tmp/debootstrap/debootstrap.log" >&2; exit 1; }
mv "$base.tmp" "$base"
touch "$base/.complete"
printf "debootstrap: %.1f s, %s\n" "$(awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN{print b-a}")" "$(du -sh "$base" | cut -f1)" >&2
echo "$base"
