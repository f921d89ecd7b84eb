import { defineConfig } from 'vitest/config';

// Three tiers (shared/DESIGN.md): unit runs in seconds; integration starts real etcd,
// systemd and podman; e2e boots images in qemu. Integration and e2e run one file at a time
// per worker pool of 2, because the machine has 2 cores and real components are heavy.
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
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
