# keel: `make run` builds the image and boots it in qemu with the demo cloud-config; `make test` sets up and runs every test tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help
KEEL_VERSION ?= $(shell node -p "require('./package.json').version")
export KEEL_VERSION
BUILD := build
SOURCES := $(shell find src -name '*.ts') scripts/build.mjs package.json

.PHONY: help deps build keel-sea test test-unit test-integration test-e2e test-cluster typecheck run bench clean

# `make help`: one line per target, here and in mk/*.mk. A .PHONY target missing from this text
# is still listed, marked as undescribed, so the list cannot silently fall behind.
define HELP_TEXT
start here
  make run               build what is missing (deps, keel, image) and boot the image in qemu with the demo
                         cloud-config; then curl http://127.0.0.1:8080/ (the port is printed)
  make demo              apply the demo cloud-config offline into .cache/run/root; print the plan and the tree
  make help              this list
build
  make deps              install the Debian and npm packages of every area (idempotent, quick when nothing is missing)
  make build             bundle keel into ./bin/keel (esbuild)
  make keel-sea          keel as a Node single executable: $(BUILD)/keel
  make typecheck         tsc --noEmit over src, test, bench and scripts
  make clean             remove $(BUILD)/, bin/keel.mjs and .cache/run
image (needs root; images/README.md)
  make image             $(BUILD)/keel.img with its manifest, slot image, kernel, initramfs and release bundle
  make image-deps        check for root and install the image build's Debian packages
  make slot              only the OS slot image $(BUILD)/slot-a.img
  make release-bundle    $(BUILD)/release/: slot, kernel, initramfs and manifest.json, what an update installs
  make run-image         boot the image in qemu (scripts/run-image.sh), as make run does without make deps
  make image-clean       remove the OS tree and the image outputs (the debootstrap cache stays)
  make pxe               $(BUILD)/pxe/: kernel, installer initramfs, iPXE script and the gzip'd disk image
  make pxe-clean         remove $(BUILD)/pxe
  make release           publish $(BUILD)/release into the signed update repository $(BUILD)/repo
  make update-key        the ed25519 test key releases are signed with (.cache/update-key/)
tests
  make test              deps, build and typecheck, then the unit, integration, e2e and cluster tiers
  make test-unit         the unit tier (seconds)
  make test-integration  the integration tier: real etcd, systemd in namespaces, podman
  make test-e2e          the e2e tier: qemu boots of the image and the PXE installer (builds both first)
  make test-cluster      three keel hosts form their own etcd and roll updates (test/e2e/cluster.test.ts, about
                         18 min on both cores, after the e2e tier in make test)
  make test-rootfs       the cached Debian rootfs the integration tests boot systemd in
  make test-lock         the reboot lock's unit and integration tests
  make containers-test   the container supervisor's unit and integration tests
  make containers-render render every fixture container spec to the unit it becomes
benchmarks
  make bench             every benchmark under bench/, each printing keel beside its peer
  make bench-lock        the lock benchmark alone
  make bench-systemd     the systemd benchmark alone
endef
export HELP_TEXT

help:
	@printf '%s\n' "$$HELP_TEXT"
	@for t in $$(sed -n 's/^\.PHONY:[[:space:]]*//p' Makefile mk/*.mk); do \
	  grep -qE "^  make $$t( |$$)" <<<"$$HELP_TEXT" || echo "  make $$t   (undescribed: add a line to HELP_TEXT in the Makefile)"; \
	done

# Debian packages (deps/*.apt, one list per area) and npm packages; idempotent and quick when nothing is missing.
deps:
	@scripts/deps.sh

node_modules/.package-lock.json: package-lock.json
	@scripts/deps.sh npm

bin/keel.mjs: $(SOURCES) node_modules/.package-lock.json
	node scripts/build.mjs

build: bin/keel.mjs

# Node's single-executable support: a CommonJS bundle injected into a stripped copy of this node.
$(BUILD)/keel: $(SOURCES) node_modules/.package-lock.json scripts/make-sea.sh scripts/build.mjs
	scripts/make-sea.sh $@

keel-sea: $(BUILD)/keel

typecheck: node_modules/.package-lock.json
	npx tsc --noEmit -p .

test: deps build typecheck
	$(MAKE) test-unit
	$(MAKE) test-integration
	$(MAKE) test-e2e
	$(MAKE) test-cluster

test-unit: build
	npx vitest run --project unit

test-integration: build
	npx vitest run --project integration

# On a failure each failed VM's error and its last console lines come last, where a CI summary
# that keeps only the end of the output still shows them.
test-e2e: build
	mkdir -p build/test-logs && touch build/test-logs/.e2e-start
	npx vitest run --project e2e --passWithNoTests || { status=$$?; \
	  find build/test-logs -name failure.txt -newer build/test-logs/.e2e-start | while read -r f; do \
	    echo "--- $$f:"; if [ "$$(wc -l < "$$f")" -le 30 ]; then cat "$$f"; \
	    else head -n 2 "$$f"; echo '...'; tail -n 25 "$$f"; fi; done; exit $$status; }

# On a failure the end of the cluster's own log comes last, where a CI summary that keeps
# only the end of the output still shows which step failed, why, and each agent's last words.
test-cluster: build
	npx vitest run --project cluster || { status=$$?; echo '--- build/test-logs/cluster.log, its end:'; tail -n 12 build/test-logs/cluster.log; exit $$status; }

run: deps build image
	scripts/run-image.sh

bench: deps build
	bench/run.sh

clean:
	rm -rf $(BUILD) bin/keel bin/keel.mjs bin/keel.cjs bin/keel.*.cjs bin/keel*.cjs.cache bin/keel-loader.cjs .cache/run

# Each area adds its own targets (image, pxe, release...) in mk/<area>.mk.
-include mk/*.mk

# The offline interpreter on its own: apply the demo cloud-config into a fresh directory.
.PHONY: demo
demo: deps build
	scripts/run-demo.sh
