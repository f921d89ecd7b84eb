# keel: `make run` boots (for now: applies) the demo cloud-config; `make test` sets up and runs every test tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help
KEEL_VERSION ?= $(shell node -p "require('./package.json').version")
export KEEL_VERSION
BUILD := build
SOURCES := $(shell find src -name '*.ts') scripts/build.mjs package.json

.PHONY: help deps build keel-sea test test-unit test-integration test-e2e typecheck run bench clean

help:
	@echo "make run     build what is needed and run keel on the demo cloud-config"
	@echo "make test    install test dependencies (apt, npm) and run unit, integration and e2e tests"
	@echo "make build   bundle keel into ./bin/keel;  make keel-sea  single executable in $(BUILD)/keel"
	@echo "make bench   benchmarks beside their peers"

# Debian packages (deps/*.apt, one list per area) and npm packages; idempotent and quick when nothing is missing.
deps:
	@scripts/deps.sh

node_modules/.package-lock.json: package-lock.json
	@scripts/deps.sh npm

bin/keel.mjs: $(SOURCES) node_modules/.package-lock.json
	node scripts/build.mjs

build: bin/keel.mjs

# Node's single-executable support: a CommonJS bundle injected into a stripped copy of this node.
$(BUILD)/keel: $(SOURCES) node_modules/.package-lock.json scripts/make-sea.sh
	scripts/make-sea.sh $@

keel-sea: $(BUILD)/keel

typecheck: node_modules/.package-lock.json
	npx tsc --noEmit -p .

test: deps build typecheck
	$(MAKE) test-unit
	$(MAKE) test-integration
	$(MAKE) test-e2e

test-unit: build
	npx vitest run --project unit

test-integration: build
	npx vitest run --project integration

test-e2e: build
	npx vitest run --project e2e --passWithNoTests

run: deps build image
	scripts/run-image.sh

bench: deps build
	bench/run.sh

clean:
	rm -rf $(BUILD) bin/keel.mjs .cache/run

# Each area adds its own targets (image, pxe, release...) in mk/<area>.mk.
-include mk/*.mk

# The offline interpreter on its own: apply the demo cloud-config into a fresh directory.
.PHONY: demo
demo: deps build
	scripts/run-demo.sh
