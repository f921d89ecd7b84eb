# Update releases (issue 5): `make release` publishes the release bundle of `make image`
# (build/release: slot.img, vmlinuz, initramfs.img, manifest.json) into the static, signed
# update repository build/repo, with a test key kept under .cache/update-key/. Serve
# build/repo with any HTTP server (or use the directory) and point SERVER= at it.
UPDATE_KEY := .cache/update-key/release.key
UPDATE_TRUST := $(UPDATE_KEY).pub
RELEASE_CHANNEL ?= stable
RELEASE_REPO := $(BUILD)/repo
# An older release bundle (a copy of an earlier build/release) to publish a delta from
# (docs/update.md, Payloads): make release RELEASE_DELTA_FROM=old-release/
RELEASE_DELTA_FROM ?=

.PHONY: release update-key

# The ed25519 test key; its public half is what the image pins as /usr/lib/keel/update-trust.pub.
update-key: $(UPDATE_KEY)
$(UPDATE_KEY): | bin/keel.mjs
	./bin/keel update keygen $@

release: $(BUILD)/release/manifest.json $(UPDATE_KEY) bin/keel.mjs
	./bin/keel update publish --key $(UPDATE_KEY) --bundle $(BUILD)/release --repo $(RELEASE_REPO) --channel $(RELEASE_CHANNEL) \
	  $(if $(RELEASE_DELTA_FROM),--delta-from $(RELEASE_DELTA_FROM))
	cp $(UPDATE_TRUST) $(RELEASE_REPO)/update-trust.pub
	@echo "release: $(RELEASE_REPO) (channel $(RELEASE_CHANNEL)); trust key $(UPDATE_TRUST)"
