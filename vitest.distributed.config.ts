import { defineConfig } from 'vitest/config';

/** The distributed suites: each starts its own processes, PostgreSQL databases and Kafka groups, so one at a time. */
export default defineConfig({
  test: {
    include: ['{packages,services,apps,sandboxes}/*/{src,test}/**/*.kafka.test.ts', 'tests/**/*.kafka.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
});
