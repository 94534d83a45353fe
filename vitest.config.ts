import { defineConfig } from 'vitest/config';
import HeavyFirstSequencer from './test/helpers/heavy-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each integration file starts its own redis-server and mostly waits on it (a conformance suite
    // keeps about 0.6 of a core busy): three files at a time keep a 2-core machine about 75 % busy
    // and took the run from 442 s to 365 s; two left it 40 % idle.
    maxWorkers: 3,
    sequence: { sequencer: HeavyFirstSequencer },
  },
});
