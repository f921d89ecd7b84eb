import { defineConfig } from 'vitest/config';

// Three tiers (shared/DESIGN.md): unit runs in seconds; integration starts real etcd,
// systemd and podman, one file at a time; e2e boots images in qemu, two files at a time:
// a TCG guest with one vCPU keeps one core busy, so two VMs use both cores of the machine
// and halve the tier's wall time (every e2e file works on its own overlays and ports).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Three guests of their own: both cores for ~18 min, alone after this tier (make test-cluster).
          exclude: ['test/e2e/cluster.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/e2e/cluster.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
