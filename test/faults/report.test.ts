import { describe, expect, it } from 'vitest';
import { mergeNotes } from './report.js';

describe('fault report › merge notes', () => {
  it('drops the rows a newer merge replaced, and a line once all its rows are replaced', () => {
    const notes = [
      'Rows K-S1, K-S2, K-E1 are from `npm run test:faults (selected)` (seed 1, 10 s) at t1, on the library of that day.',
      'Rows K-R1 are from `npm run test:faults (selected)` (seed 2, 5 s) at t2, on the library of that day.',
    ];
    expect(mergeNotes(notes, new Set(['K-S1', 'K-R1']))).toEqual([
      'Rows K-S2, K-E1 are from `npm run test:faults (selected)` (seed 1, 10 s) at t1, on the library of that day.',
    ]);
    expect(mergeNotes(notes, new Set())).toEqual(notes);
  });
});
