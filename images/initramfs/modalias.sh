# Sourced by /init (busybox sh): loads the drivers of the hardware present, by modalias,
# against the table images/initramfs/hw-table.sh generated (hwdep_NAME, hw_match). Devices
# appear in stages (virtio_pci makes virtio devices, an HBA makes SCSI devices that want
# sd_mod), so /init scans again until nothing new loads and while it waits for its partitions.
# KEEL_SYS, KEEL_MODULES, KEEL_INSMOD and KEEL_RUN stand in for /sys, /lib/modules, insmod
# and /run in tests.
sysdir=${KEEL_SYS:-/sys} moddir=${KEEL_MODULES:-/lib/modules} insmod=${KEEL_INSMOD:-insmod}
errfile=${KEEL_RUN:-/run}/keel-insmod.err
. "$moddir/hw-table.sh"

loaded=' ' seen=' ' drivers=''

# load_ko QUIET MODULE_PATH...: insmod each path not loaded yet, in the order given. A failure
# is said unless QUIET (the full list loads drivers for hardware that is not there).
load_ko() {
  q=$1
  shift
  for ko; do
    case "$loaded" in *" $ko "*) continue ;; esac
    loaded="$loaded$ko "
    "$insmod" "$moddir/$ko" 2>"$errfile" \
      || [ -n "$q" ] || say "warning: insmod $ko failed: $(cat "$errfile" 2>/dev/null)"
  done
}

# hw_scan: loads the drivers matching each device not seen before; new is set when one loaded.
hw_scan() {
  new=''
  for f in "$sysdir"/bus/*/devices/*/modalias; do
    case "$seen" in *" $f "*) continue ;; esac
    seen="$seen$f "
    read -r a <"$f" 2>/dev/null || continue
    hw_match "$a"
    for m in $hw; do
      case " $drivers " in *" $m "*) continue ;; esac
      drivers="${drivers:+$drivers }$m"
      eval "load_ko '' \$hwdep_$m"
      new=1
    done
  done
}

# hw_load: scans until a scan loads nothing.
hw_load() {
  hw_scan
  while [ -n "$new" ]; do hw_scan; done
}
