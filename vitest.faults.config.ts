import { defineConfig } from 'vitest/config';

/**
 * The fast subset of the fault-injection suite (test/faults/fast.faults.ts): real Redis, resource
 * server and worker processes, one scenario at a time. `npm run test:faults` runs the full suite.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
