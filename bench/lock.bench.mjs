#!/usr/bin/env node
// Reboot-lock benchmark: runs bench/lock/driver.ts against a real three-member etcd cluster
// it starts: hand-off latency and the cost of a leader kill.
// Knobs (environment): LOCK_BENCH_WAITERS (100). Fleet rolls: bench/fleet.bench.mjs.
import { runBundled } from './lib/run-bundled.mjs';

await runBundled('bench/lock/driver.ts', 'lock-driver');
