# The container supervisor (src/containers): render every fixture spec to the unit it becomes,
# and run its own test tiers.
.PHONY: containers-render containers-test

containers-render: build
	@for f in test/fixtures/containers/*.yaml; do echo "=== keel containers render $$f"; ./bin/keel containers render $$f || exit 1; done

containers-test: build
	npx vitest run --project unit test/unit/containers
	npx vitest run --project integration test/integration/containers
