/** A third of the fast fault subset (test/faults/fast-subset.ts). */
import { registerFastPart } from './fast-subset.js';

registerFastPart(3, 3);
