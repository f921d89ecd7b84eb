#!/usr/bin/env node
// Fleet benchmark: runs bench/fleet/driver.ts; each roll gets its own three-member etcd cluster.
// Knobs (environment): FLEET_BENCH_AGENTS (10000), FLEET_BENCH_SLOTS (100),
// FLEET_BENCH_REBOOT_MS (1000), FLEET_BENCH_WORKERS (4), FLEET_BENCH_PEER_CAP_MS (2x ideal),
// FLEET_BENCH_ARRIVAL_MS (half the ideal roll: agents stage over it), FLEET_BENCH_PROGRESS=1,
// FLEET_BENCH_ONLY (keel,poll,compete,brake,small,small-poll), FLEET_BENCH_KEEL_RUNS (3: keel's
// 10,000-agent roll is rolled that many times, and the median printed).
import { runBundled } from './lib/run-bundled.mjs';

await runBundled('bench/fleet/driver.ts', 'fleet-driver');
