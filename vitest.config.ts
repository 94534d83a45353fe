import { defineConfig } from 'vitest/config';
import HeavyFirstSequencer from './test/helpers/heavy-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each integration file starts its own redis-server; two files at a time suit a 2-core machine.
    maxWorkers: 2,
    sequence: { sequencer: HeavyFirstSequencer },
  },
});
