/**
 * The live progress line, once a second: plain text, so it reads the same in a terminal, a pipe or
 * a CI log.
 */
import { overlaps } from './analysis.js';
import { count, stamp } from './format.js';
import type { Journal } from './journal.js';
import type { FencedLedger } from './ledger.js';

export class Progress {
  #acquisitionsBefore = 0;

  constructor(
    private readonly journal: Journal,
    private readonly ledger: FencedLedger,
  ) {}

  line(elapsedMs: number, workersRunning: number): string {
    const total = this.journal.acquisitions.length;
    const recent = total - this.#acquisitionsBefore;
    this.#acquisitionsBefore = total;
    const holder = this.journal.currentHolder();
    return `${stamp(elapsedMs)} ${[
      `acquisitions ${count(total)} (+${recent})`,
      `holder ${holder ? `w${holder.worker} token ${holder.fence}` : 'none'}`,
      `ledger ${count(this.ledger.acceptedWrites)} accepted, ${this.ledger.refusedWrites.length} refused`,
      `overlaps ${overlaps(this.journal.acquisitions).length}`,
      `workers ${workersRunning}`,
    ].join('  ')}`;
  }
}
