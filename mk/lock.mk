# Reboot lock (issue 4): its own test and bench entry points; `make test` and `make bench`
# already include them through the vitest projects and bench/run.sh.
.PHONY: test-lock bench-lock

test-lock: build
	npx vitest run test/unit/lock test/integration/lock

bench-lock: build
	bench/lock.bench.mjs
