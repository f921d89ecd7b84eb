# The bootable host image (issue 3): `make image` → build/keel.img, plus the OS slot image,
# kernel, initramfs and the release bundle the update agent consumes. Needs root
# (debootstrap, chroot, file ownership in the OS tree); see images/README.md.
IMAGE_CACHE := .cache/image
IMAGE_ROOTFS := $(IMAGE_CACHE)/rootfs
IMAGE_INPUTS := $(shell find images/rootfs images/units -type f 2>/dev/null) images/customise.sh images/trim-modules.sh images/demo-image.sh images/normalise-tree.sh
# Every timestamp in the OS tree's slot (images/make-slot.sh): the environment's, else the time of
# the last commit that changed the package list, so builds of one base agree and a release that
# changes only keel keeps the old slot's timestamps (its delta stays small).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct -- images/packages.txt 2>/dev/null | grep . || echo 1700000000)
export SOURCE_DATE_EPOCH
# KEEL_VERSION is baked into the OS tree: rebuild it when the version changes.
IMAGE_VERSION_FILE := $(IMAGE_CACHE)/version
$(shell mkdir -p $(IMAGE_CACHE); echo '$(KEEL_VERSION)' | cmp -s - $(IMAGE_VERSION_FILE) || echo '$(KEEL_VERSION)' > $(IMAGE_VERSION_FILE))

.PHONY: image slot release-bundle run-image image-clean image-deps

image: $(BUILD)/keel.img $(BUILD)/keel.img.json $(BUILD)/kernel-cmdline release-bundle
slot: $(BUILD)/slot-a.img
release-bundle: $(BUILD)/release/manifest.json

image-deps:
	@[ "$$(id -u)" = 0 ] || { echo "image: building the OS tree needs root (debootstrap, chroot); run make image as root" >&2; exit 1; }
	@scripts/deps.sh apt

# debootstrap base, cached under .cache/image/base-<hash of the package list>/
$(IMAGE_CACHE)/base.path: images/packages.txt images/debootstrap.sh | image-deps
	nice images/debootstrap.sh > $@.tmp && mv $@.tmp $@

# keel's OS tree; the kernel comes out of it onto the ESP
$(IMAGE_CACHE)/rootfs.stamp $(BUILD)/vmlinuz &: $(IMAGE_CACHE)/base.path $(BUILD)/keel $(IMAGE_INPUTS) $(IMAGE_VERSION_FILE) | image-deps
	@mkdir -p $(BUILD)
	nice images/customise.sh "$$(cat $(IMAGE_CACHE)/base.path)" $(IMAGE_ROOTFS) $(BUILD)/keel "$(KEEL_VERSION)" $(BUILD)/vmlinuz
	touch $(IMAGE_CACHE)/rootfs.stamp

$(BUILD)/initramfs.img: $(IMAGE_CACHE)/rootfs.stamp images/initramfs/init images/initramfs/modalias.sh images/initramfs/hw-table.sh images/initramfs/build.sh images/initramfs-lib.sh
	nice images/initramfs/build.sh $(IMAGE_ROOTFS) $@

# The OS slot: erofs lz4hc with its dm-verity hash area appended, reproducible (images/make-slot.sh:
# the same tree gives the same bytes); slot-a.img.verity.json holds the root hash and layout.
$(BUILD)/slot-a.img: $(IMAGE_CACHE)/rootfs.stamp images/make-slot.sh
	nice images/make-slot.sh $(IMAGE_ROOTFS) $@ "$(KEEL_VERSION)"

# Slot A's command line for direct boots: the slot and its dm-verity root hash (images/verity-cmdline.sh).
$(BUILD)/kernel-cmdline: images/layout.env $(BUILD)/slot-a.img images/verity-cmdline.sh
	@mkdir -p $(BUILD)
	. images/layout.env && echo "$$KERNEL_CMDLINE keel.slot=a $$(images/verity-cmdline.sh $(BUILD)/slot-a.img.verity.json)" > $@

$(BUILD)/keel.img: $(BUILD)/slot-a.img $(BUILD)/vmlinuz $(BUILD)/initramfs.img images/make-disk.sh images/layout.env images/verity-cmdline.sh
	nice images/make-disk.sh $@ $(BUILD)/slot-a.img $(BUILD)/vmlinuz $(BUILD)/initramfs.img \
	  $(IMAGE_ROOTFS)/usr/lib/systemd/boot/efi/systemd-bootx64.efi "$(KEEL_VERSION)" $(IMAGE_ROOTFS)/etc/mke2fs.conf

# What the installer verifies before writing the disk image.
$(BUILD)/keel.img.json: $(BUILD)/keel.img images/manifest.sh
	images/manifest.sh disk "$(KEEL_VERSION)" $(BUILD)/keel.img > $@.tmp && mv $@.tmp $@

$(BUILD)/release/manifest.json: $(BUILD)/slot-a.img $(BUILD)/vmlinuz $(BUILD)/initramfs.img images/manifest.sh images/layout.env
	rm -rf $(BUILD)/release && mkdir -p $(BUILD)/release
	ln $(BUILD)/slot-a.img $(BUILD)/release/slot.img
	cp $(BUILD)/slot-a.img.verity.json $(BUILD)/release/slot.img.verity.json
	cp $(BUILD)/vmlinuz $(BUILD)/initramfs.img $(BUILD)/release/
	images/manifest.sh release "$(KEEL_VERSION)" $(BUILD)/release > $@.tmp && mv $@.tmp $@

run-image: image
	scripts/run-image.sh

# The e2e tier boots the image.
test-e2e: image
test-cluster: image

image-clean:
	rm -rf $(IMAGE_ROOTFS) $(IMAGE_CACHE)/rootfs.stamp $(BUILD)/keel.img $(BUILD)/keel.img.json $(BUILD)/slot-a.img \
	  $(BUILD)/slot-a.img.verity.json $(BUILD)/vmlinuz $(BUILD)/initramfs.img $(BUILD)/kernel-cmdline $(BUILD)/release
