import { defineConfig } from 'vitest/config';

// On 2 cores one `vitest run` runs every file one after the other (vitest's default is one worker
// per core less one, shared by the projects of a group), after every project's globalSetup: the
// groupOrder settings below order the projects, they do not make them overlap.
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
          // The volume mover's data path: real restic, a real S3 server (versitygw, built from
          // the Go module proxy by the globalSetup, cached), real folders.
          name: 'mover',
          include: ['test/mover/**/*.test.ts'],
          globalSetup: ['test/cluster/s3-setup.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 1_200_000,
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
      {
        test: {
          // Real pods: a control plane with a real node (kubelet + containerd) beside the kwok
          // nodes, running the test images; see test/cluster/README.md (Real nodes).
          name: 'realpods',
          include: ['test/realpods/**/*.test.ts'],
          globalSetup: ['test/realpods/global-setup.ts'],
          fileParallelism: false,
          // After the other projects: the real node's containers would take their CPU.
          sequence: { groupOrder: 1 },
          testTimeout: 600_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        test: {
          // One control plane per site, each in its own network namespace (root only), started
          // by test/cluster/sites-setup.ts. After the other projects (and realpods), so that the e2e timing
          // tests never share the CPU with three more control planes.
          name: 'sites',
          include: ['test/sites/**/*.test.ts'],
          globalSetup: ['test/cluster/s3-setup.ts', 'test/cluster/sites-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 900_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
