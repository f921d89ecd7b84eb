#!/usr/bin/env bash
# Turns the cached debootstrap base into keel's OS tree: installs keel (the single
# executable) and its units, keel's configuration files (images/rootfs/), trims docs,
# locales, apt lists and unneeded kernel modules, empties machine-id and host keys, masks
# what stalls boot, and takes the kernel out of the tree (it lives on the ESP). Adds the
# demo's container image and the subordinate id range podman's --userns=auto takes from.
# usage: customise.sh BASE_DIR OUT_DIR KEEL_EXECUTABLE VERSION KERNEL_OUT
set -euo pipefail
base=$1 out=$2 keel=$3 version=$4 kernel_out=$5
here=$(cd "$(dirname "$0")" && pwd)

# The base's contents, not the path: in a worktree the base (and a stale rootfs) can be a
# symlink into another tree's cache, and `cp -a LINK OUT` copies the link, so everything
# below would customise that shared base in place.
rm -rf "$out" && mkdir -p "$out"
cp -a "$base/." "$out/"
rm -f "$out/.complete"

# --- trim: package caches, docs (copyright files stay), man pages, locales, logs
rm -rf "$out"/var/cache/apt/* "$out"/var/lib/apt/lists/* "$out"/var/cache/debconf/*-old \
  "$out"/var/lib/dpkg/*-old "$out"/var/log/* "$out"/usr/share/man "$out"/usr/share/info \
  "$out"/usr/share/lintian "$out"/usr/share/linda "$out"/var/cache/man
find "$out/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$out/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$out/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
mkdir -p "$out/var/log/journal" "$out/var/cache/apt/archives/partial" "$out/var/lib/apt/lists/partial"

# --- kernel: out of the tree onto the ESP; keep only the modules a VM or server host uses
kver=$(basename "$(ls -d "$out"/usr/lib/modules/*)")
cp "$out/boot/vmlinuz-$kver" "$kernel_out"
cp "$out/boot/config-$kver" "$out/usr/lib/modules/$kver/config"
rm -rf "$out"/boot/* "$out"/boot/.??* 2>/dev/null || true
rm -f "$out"/vmlinuz* "$out"/initrd.img* "$out"/vmlinuz.old "$out"/initrd.img.old
"$here/trim-modules.sh" "$out/usr/lib/modules/$kver"
chroot "$out" depmod -a "$kver"

# --- identity: empty machine-id (first boot is detected), no host keys, keel's os-release
: > "$out/etc/machine-id"
rm -f "$out/var/lib/dbus/machine-id" && ln -s /etc/machine-id "$out/var/lib/dbus/machine-id"
rm -f "$out"/etc/ssh/ssh_host_*
rm -f "$out/etc/os-release" && ln -s ../usr/lib/os-release "$out/etc/os-release"
cat > "$out/usr/lib/os-release" <<OS
NAME="keel"
ID=keel
ID_LIKE=debian
PRETTY_NAME="keel $version (Debian 12 packages)"
VERSION="$version"
VERSION_ID="$version"
VERSION_CODENAME=bookworm
HOME_URL="https://github.com/keel-os/keel"
OS
mkdir -p "$out/usr/lib/keel"
echo "$version" > "$out/usr/lib/keel/version"
install -m 0755 "$keel" "$out/usr/bin/keel"
printf 'keel %s \\n \\l\n\n' "$version" > "$out/etc/issue"
printf 'keel %s\n' "$version" > "$out/etc/issue.net"

# --- keel's files and units
cp -a "$here/rootfs/." "$out/"
mkdir -p "$out/state" "$out/boot" "$out/etc/keel"
units=$out/usr/lib/systemd/system
presets=()
for f in "$here"/units/*; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  case "$name" in
    *.preset) install -m 0644 "$f" "$out/usr/lib/systemd/system-preset/$name"; presets+=("$f") ;;
    *) cp -a "$f" "$units/" ;;
  esac
done
# Units with an [Install] section are enabled, unless a preset file of images/units names
# them, in which case the preset decides.
for f in "$here"/units/*; do
  name=$(basename "$f")
  [ -f "$f" ] && [[ $name != *.preset ]] || continue
  grep -q '^\[Install\]' "$f" || continue
  if ((${#presets[@]})) && grep -qE "^(enable|disable)[[:space:]]+$name([[:space:]]|$)" "${presets[@]}"; then
    systemctl --root="$out" preset "$name" >/dev/null 2>&1
  else
    systemctl --root="$out" enable "$name" >/dev/null 2>&1
  fi
done

# --- containers: the demo's image (cloud-config/examples/demo.yaml) in the read-only slot, linked
# into /var/lib/keel/images at every boot by tmpfiles (rootfs/usr/lib/tmpfiles.d/keel-images.conf),
# so an update brings its own copy; and user `containers`' subordinate ids, from which rootful
# podman carves a user namespace per container (--userns=auto). Host users that useradd gives
# ranges get them from 100000 up (login.defs), far below this one.
mkdir -p "$out/usr/share/keel/images"
"$here/demo-image.sh" "$out/usr/share/keel/images/demo-web.tar"
for f in subuid subgid; do
  touch "$out/etc/$f"
  grep -q '^containers:' "$out/etc/$f" || echo 'containers:2147483647:2147483648' >> "$out/etc/$f"
done

# AppArmor: podman loads its own profile (containers-default) when it starts a container.
# Debian's profiles (lsb_release, nvidia_modprobe) confine programs a container host does not
# run, and compiling them made apparmor.service, which sysinit waits for, take 28 s of a first
# boot under TCG. They are disabled the AppArmor way (a link in disable/), so a profile an
# operator adds to /etc/apparmor.d still loads at boot.
for p in "$out"/etc/apparmor.d/*; do
  [ -f "$p" ] && ln -sfn "../${p##*/}" "$out/etc/apparmor.d/disable/${p##*/}"
done

# --- boot-time hygiene: what stalls, prompts or is not wanted on a container host
mask=(e2scrub_reap.service e2scrub_all.timer systemd-firstboot.service apt-daily.timer
  apt-daily-upgrade.timer dpkg-db-backup.timer systemd-boot-update.service)
disable=(etcd.service podman.service podman-auto-update.timer podman-auto-update.service
  podman-restart.service fstrim.timer)
systemctl --root="$out" disable "${mask[@]}" "${disable[@]}" >/dev/null 2>&1
systemctl --root="$out" mask "${mask[@]}" >/dev/null 2>&1
rm -f "$out/etc/systemd/system/etcd2.service"
cp "$out/usr/share/systemd/tmp.mount" "$units/tmp.mount"
systemctl --root="$out" enable tmp.mount systemd-networkd.service >/dev/null 2>&1
# --- build-host leftovers out, so the same base gives the same tree
"$here/normalise-tree.sh" "$out"
echo "customise: $(du -sh "$out" | cut -f1) OS tree, kernel $kver" >&2
