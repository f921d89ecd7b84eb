# The systemd edge's targets: the cached Debian rootfs the integration tests boot systemd in
# (scripts/make-test-rootfs.sh; built once, ~1 min, reused while its package list is unchanged),
# and the systemd benchmark alone.
.PHONY: test-rootfs bench-systemd

test-rootfs:
	scripts/make-test-rootfs.sh

bench-systemd: build
	bench/systemd.bench.sh
