import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          // Real PostgreSQL servers on loopback, started per test by test/postgres/harness.ts.
          name: 'postgres',
          include: ['test/postgres/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Real tools without a cluster (Debian's lua5.1 and promtool, Flux's evaluator and krew
          // built from the Go module proxy, npm and tsc on a copy of the build context).
          name: 'tools',
          include: ['test/tools/**/*.test.ts'],
          testTimeout: 300_000,
          // After the other projects: its Go builds and npm installs would take the CPU from the
          // e2e tests' timing-sensitive promotions.
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          // One control plane is shared by every e2e file; files run one at a time so
          // that timing-sensitive tests (promotion thresholds) are not starved of CPU.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
