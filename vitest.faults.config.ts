import { defineConfig } from 'vitest/config';

/**
 * The fast subset of the fault-injection suite (test/faults/fast-subset.ts): real Redis, resource
 * server and worker processes, three scenarios at a time (one per file, each file one after another).
 * `npm run test:faults` runs the full suite.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxWorkers: 3,
  },
});
