# Network install (issue 3): `make pxe` → build/pxe/ with the kernel (the image's), the
# installer initramfs (keel's single executable + busybox + sgdisk, images/pxe/) and the
# iPXE script, and keel.img.gz with the image manifest. Serve build/pxe/ over HTTP at
# PXE_BASE_URL and boot.ipxe over TFTP; the script's defaults are set here.
# For UEFI firmware that network-boots without iPXE (its own PXE over TFTP, or HTTP boot),
# keel-install.efi is the kernel, the installer initramfs and its command line in one file.
PXE_BASE_URL ?= http://10.0.2.2:8080
# The disk: `auto` lets the installer choose the one blank disk and refuse when that is not
# clear (docs/install.md); a site with several blank disks names one here or per machine.
PXE_DEVICE ?= auto
# iPXE expands $${base-url} when it runs the script.
PXE_CLOUD_CONFIG_URL ?= $${base-url}/user-data
# keel-install.efi's command line is fixed when it is built: no iPXE variables in it.
PXE_UKI_CMDLINE ?= console=tty0 console=ttyS0,115200 keel.install.image=$(PXE_BASE_URL)/keel.img.gz keel.install.device=$(PXE_DEVICE) cloud-config-url=$(PXE_BASE_URL)/user-data
PXE_UKI_STUB ?= /usr/lib/systemd/boot/efi/linuxx64.efi.stub

.PHONY: pxe pxe-clean

pxe: $(BUILD)/pxe/vmlinuz $(BUILD)/pxe/initramfs.img $(BUILD)/pxe/boot.ipxe $(BUILD)/pxe/keel.img.gz $(BUILD)/pxe/keel.img.json $(BUILD)/pxe/keel-install.efi

# The disk image gzip'd for the network (about a tenth of the bytes: most of it is empty
# slot and state space); the installer inflates it and verifies the raw image's manifest.
$(BUILD)/pxe/keel.img.gz: $(BUILD)/keel.img
	@mkdir -p $(@D)
	nice gzip -1 -c $< > $@.tmp && mv $@.tmp $@

$(BUILD)/pxe/keel.img.json: $(BUILD)/keel.img.json
	@mkdir -p $(@D)
	cp $< $@

$(BUILD)/pxe/vmlinuz: $(BUILD)/vmlinuz
	@mkdir -p $(@D)
	cp $< $@

$(BUILD)/pxe/initramfs.img: $(IMAGE_CACHE)/rootfs.stamp $(BUILD)/keel images/pxe/build.sh images/pxe/init images/pxe/udhcpc.script images/initramfs-lib.sh
	nice images/pxe/build.sh $(IMAGE_ROOTFS) $(BUILD)/keel $@

$(BUILD)/pxe/boot.ipxe: images/pxe/boot.ipxe mk/pxe.mk
	@mkdir -p $(@D)
	sed -e 's|@BASE_URL@|$(PXE_BASE_URL)|' -e 's|@DEVICE@|$(PXE_DEVICE)|' -e 's|@CLOUD_CONFIG_URL@|$(PXE_CLOUD_CONFIG_URL)|' $< > $@

$(BUILD)/pxe/keel-install.efi: $(BUILD)/pxe/vmlinuz $(BUILD)/pxe/initramfs.img images/pxe/make-uki.sh mk/pxe.mk
	images/pxe/make-uki.sh $(PXE_UKI_STUB) $(BUILD)/pxe/vmlinuz $(BUILD)/pxe/initramfs.img '$(PXE_UKI_CMDLINE)' $@

# The PXE e2e test boots the network installer.
test-e2e: pxe

pxe-clean:
	rm -rf $(BUILD)/pxe
