import { defineConfig } from 'vitest/config';

/** The distributed suites: each starts its own processes, PostgreSQL databases and Kafka groups, so one at a time. */
export default defineConfig({
  test: {
    include: ['{packages,services,apps,sandboxes}/*/{src,test}/**/*.kafka.test.ts', 'tests/**/*.kafka.test.ts'],
    // The fault suite runs on its own (`npm run test:faults`) until the saga drains a fault-sized backlog
    // within its 60 s bound: today it proves no loss, no double capture and no oversell, but ~240 of ~450
    // orders are still in flight 60 s after healing (throughput, see bench/RESULTS.md).
    exclude: ['**/node_modules/**', 'tests/faults/**'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
});
