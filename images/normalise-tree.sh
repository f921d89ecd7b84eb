#!/usr/bin/env bash
# The last step of customise.sh: takes out of the OS tree what only says where and when it was
# built, so the same debootstrap base and inputs give the same tree (and, by make-slot.sh, the
# same slot bytes). Each removed file is one that a running host recreates or never needs.
# What stays different between two debootstrap runs (package versions fetched on another day,
# dpkg's and debconf's records of the install) is input, not leftover: the base is cached and
# keyed by its package list (debootstrap.sh), so one base serves every build of a release line.
# usage: SOURCE_DATE_EPOCH=N normalise-tree.sh TREE
set -euo pipefail
tree=$1
epoch=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set}
# ldconfig's aux-cache records the build host's file inode numbers and times (ld.so.cache stays:
# it is a function of the libraries); the shadow tools' backups and lock; logs; a random seed;
# temporary files; dpkg's and debconf's "-old" backups.
rm -rf "$tree"/var/cache/ldconfig/aux-cache "$tree"/etc/.pwd.lock \
  "$tree"/etc/passwd- "$tree"/etc/group- "$tree"/etc/shadow- "$tree"/etc/gshadow- \
  "$tree"/etc/subuid- "$tree"/etc/subgid- "$tree"/var/lib/systemd/random-seed \
  "$tree"/var/lib/dpkg/*-old "$tree"/var/cache/debconf/*-old "$tree"/root/.bash_history
find "$tree/var/log" "$tree/tmp" "$tree/var/tmp" -mindepth 1 ! -type d -delete 2>/dev/null || true
# shadow's "last changed" day is the build day for accounts debootstrap made: set it to the
# day of SOURCE_DATE_EPOCH (what shadow itself does when SOURCE_DATE_EPOCH is set).
day=$((epoch / 86400)) shadow=$tree/etc/shadow
if [ -f "$shadow" ]; then
  awk -F: -v OFS=: -v d="$day" '$3 ~ /^[0-9]+$/ { $3 = d } { print }' "$shadow" > "$shadow.new"
  chmod --reference="$shadow" "$shadow.new" && chown --reference="$shadow" "$shadow.new"
  mv "$shadow.new" "$shadow"
fi
