# Fuzzing (issue 9), not part of `make test` (its short fixed-seed runs are in the unit and
# integration tiers). Each fuzzer is TypeScript bundled with esbuild (packages external, as
# bench/ does) into .cache/fuzz/ and run under nice; each takes --count and --seed.
.PHONY: fuzz fuzz-config fuzz-http

FUZZ_COUNT ?= 100000
FUZZ_SEED ?= 1
# $(FUZZ_RUN) fuzz/NAME.ts ARGS…: bundle fuzz/NAME.ts, then run it with ARGS.
FUZZ_RUN = fuzz_run() { mkdir -p .cache/fuzz && out=.cache/fuzz/$$(basename "$$1" .ts).mjs && npx esbuild "$$1" --bundle --platform=node --format=esm --target=node20 --packages=external --log-level=warning --outfile="$$out" && shift && nice node "$$out" "$$@"; }; fuzz_run

fuzz: fuzz-config fuzz-http

# Generated and mutated cloud-configs, in-process and a sample through ./bin/keel; fails on a crash,
# a hang, an unlocated answer, a file over 1 s or a peak RSS over 512 MB.
fuzz-config: build
	$(FUZZ_RUN) fuzz/config-fuzz.ts --count $(FUZZ_COUNT) --seed $(FUZZ_SEED) --max-ms 1000 --max-rss-mb 512

# Requests to `keel lock serve` on loopback (fuzz/http-fuzz.ts, with its own etcd).
fuzz-http: build
	$(FUZZ_RUN) fuzz/http-fuzz.ts --count 20000 --seed $(FUZZ_SEED)
