import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: the distributed fault suite (kills, broker and PostgreSQL restarts, proxies). */
export default defineConfig({
  test: {
    include: ['tests/faults/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 240_000,
    pool: 'forks',
  },
});
