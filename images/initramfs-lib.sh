# What keel's two initramfs builders share, sourced by images/initramfs/build.sh (the host
# image's) and images/pxe/build.sh (the network installer's): the work tree, busybox-static
# and its applets, kernel modules resolved with their dependencies from the OS tree (load
# order in /lib/modules/load-order, read by both /init scripts), executables with the
# shared libraries they link, and the zstd newc cpio. Messages start with the builder's tag.
# Sets: t (the tree being assembled), kver (the OS tree's kernel version).

# initramfs_begin TAG ROOTFS [DIR...]: a fresh tree under a temp dir removed on exit, with
# the directories every initramfs needs plus DIRs.
initramfs_begin() {
  initramfs_tag=$1 initramfs_rootfs=$2
  shift 2
  kver=$(basename "$(ls -d "$initramfs_rootfs"/usr/lib/modules/*)")
  initramfs_work=$(mktemp -d)
  trap 'rm -rf "$initramfs_work"' EXIT
  t=$initramfs_work/tree
  mkdir -p "$t"/{bin,sbin,etc,proc,sys,dev,run,lib/modules,usr/bin,usr/sbin}
  local d
  for d in "$@"; do mkdir -p "$t/$d"; done
}

# initramfs_busybox INIT: busybox-static (no libraries; $BUSYBOX overrides /bin/busybox)
# with a link per applet, and INIT as /init (it replaces busybox's init).
initramfs_busybox() {
  local busybox=${BUSYBOX:-/bin/busybox} applet
  install -m 0755 "$busybox" "$t/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || [ -e "$t/bin/$applet" ] || ln -s busybox "$t/bin/$applet"
  done
  install -m 0755 "$1" "$t/init"
}

initramfs_missing() { # POLICY MESSAGE: skip says so and goes on; require stops the build
  if [ "$1" = skip ]; then echo "$initramfs_tag: $2; skipped" >&2; return 0; fi
  echo "$initramfs_tag: $2; cannot build" >&2
  exit 1
}

# initramfs_modules require|skip MODULE...: each module and its dependencies (modprobe
# --show-depends against the OS tree, so they match its kernel), decompressed, each once,
# in load order. With skip, a module the (trimmed) OS tree lacks is named and left out;
# with require, it stops the build.
initramfs_modules() {
  local policy=$1 m deps ko rel src
  shift
  : > "$t/lib/modules/load-order"
  for m in "$@"; do
    deps=$(modprobe -d "$initramfs_rootfs" -S "$kver" --show-depends "$m" 2>/dev/null) \
      || { initramfs_missing "$policy" "no module $m for kernel $kver in $initramfs_rootfs"; continue; }
    awk '$1 == "insmod" { print $2 }' <<<"$deps"
  done > "$initramfs_work/modules"
  for ko in $(awk '!seen[$0]++' "$initramfs_work/modules"); do
    rel=${ko#*/modules/"$kver"/}
    src=$initramfs_rootfs/usr/lib/modules/$kver/$rel
    [ -e "$src" ] || { initramfs_missing "$policy" "$rel is not in the OS tree"; continue; }
    mkdir -p "$t/lib/modules/$(dirname "$rel")"
    case "$src" in
      *.xz) xz -dc "$src" > "$t/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
      *.zst) zstd -qdc "$src" > "$t/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
      *) cp "$src" "$t/lib/modules/$rel" ;;
    esac
    echo "$rel" >> "$t/lib/modules/load-order"
  done
  [ -s "$t/lib/modules/load-order" ] \
    || { echo "$initramfs_tag: no modules resolved for kernel $kver in $initramfs_rootfs; cannot build" >&2; exit 1; }
}

# initramfs_copy_with_libs ROOT SRC DEST: ROOT's SRC as DEST in the tree, with the shared
# libraries ldd names for it (run inside ROOT by chroot; ROOT empty: the build host).
initramfs_copy_with_libs() {
  local root=$1 src=$2 dest=$3 lib libs
  install -D -m 0755 "$root$src" "$t$dest"
  # A static executable links nothing: ldd fails and there is nothing to copy.
  if [ -n "$root" ]; then libs=$(chroot "$root" ldd "$src") || libs=''; else libs=$(ldd "$src") || libs=''; fi
  for lib in $(awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' <<<"$libs"); do
    [ -e "$t$lib" ] || install -D -m 0755 "$root$lib" "$t$lib"
  done
}

# initramfs_pack OUT ZSTD_LEVEL: the tree as a newc cpio in name order with renumbered
# inodes, zstd-compressed, written to OUT.tmp and renamed into place.
initramfs_pack() {
  local out=$1 level=$2
  mkdir -p "$(dirname "$out")"
  (cd "$t" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible --quiet) \
    | zstd -q "-$level" -T0 > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "$initramfs_tag: $out $(du -k "$out" | cut -f1) KiB ($(wc -l < "$t/lib/modules/load-order") modules, kernel $kver)" >&2
}

# hardware_modules FAMILY...: the modules images/hardware.txt lists under those families.
hardware_modules() {
  awk -v fams=" $* " '!/^#/ && NF >= 2 && index(fams, " " $1 " ") { print $2 }' "$(dirname "${BASH_SOURCE[0]}")/hardware.txt"
}

# initramfs_firmware: the firmware files the tree's modules name (modinfo -F firmware), from
# the OS tree's usr/lib/firmware (already trimmed to what kept modules load), so a NIC whose
# driver needs firmware (bnx2x, bnx2, tg3, ice, r8169) comes up before switch_root too.
initramfs_firmware() {
  local fw=$initramfs_rootfs/usr/lib/firmware name n=0
  [ -d "$fw" ] || return 0
  while IFS= read -r name; do
    [ -n "$name" ] && [ -e "$fw/$name" ] || continue
    mkdir -p "$t/lib/firmware/$(dirname "$name")"
    cp -L "$fw/$name" "$t/lib/firmware/$name"
    n=$((n + 1))
  done < <(cd "$t/lib/modules" && xargs -r modinfo -F firmware < load-order 2>/dev/null | sort -u)
  echo "$initramfs_tag: $n firmware files ($(du -sk "$t/lib/firmware" 2>/dev/null | cut -f1 || echo 0) KiB)" >&2
}
