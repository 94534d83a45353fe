/**
 * What the ledger learned about each acquisition of the lock: who, which fencing token, when it was
 * requested, acquired, valid until, and left. The summary's figures are computed from this record.
 */
import type { ReleaseOutcome } from '../src/index.js';
import type { LedgerObserver } from './ledger-server.js';
import type { WorkerMessage } from './protocol.js';

export interface Acquisition {
  readonly worker: number;
  readonly fence: number;
  readonly requestedAt: number;
  readonly acquiredAt: number;
  /** Latest end of validity the holder reported while it held the lock. */
  validUntil: number;
  /** When the holder left the critical section: started its release, or was killed. */
  leftAt: number | undefined;
  outcome: ReleaseOutcome | 'failed' | 'killed' | undefined;
}

export interface Problem {
  readonly worker: number;
  readonly message: string;
  readonly at: number;
}

export class Journal implements LedgerObserver {
  /** In the order the ledger heard of them. */
  readonly acquisitions: Acquisition[] = [];
  readonly problems: Problem[] = [];
  readonly #byFence = new Map<number, Acquisition>();
  readonly #latestByWorker = new Map<number, Acquisition>();

  received(worker: number, message: WorkerMessage, at: number): void {
    switch (message.type) {
      case 'acquired': {
        const acquisition: Acquisition = {
          worker,
          fence: message.fence,
          requestedAt: message.requestedAt,
          acquiredAt: message.acquiredAt,
          validUntil: message.validUntil,
          leftAt: undefined,
          outcome: undefined,
        };
        this.acquisitions.push(acquisition);
        this.#byFence.set(message.fence, acquisition);
        this.#latestByWorker.set(worker, acquisition);
        break;
      }
      case 'write': {
        const acquisition = this.#byFence.get(message.fence);
        if (acquisition && message.validUntil !== null) {
          acquisition.validUntil = Math.max(acquisition.validUntil, message.validUntil);
        }
        break;
      }
      case 'released': {
        const acquisition = this.#byFence.get(message.fence);
        if (acquisition) {
          acquisition.leftAt = message.releasedAt;
          acquisition.outcome = message.outcome;
        }
        break;
      }
      case 'problem':
        this.problems.push({ worker, message: message.message, at });
        break;
    }
  }

  /** Records that `worker` was killed at `at`: whatever it held, it left the critical section. */
  markKilled(worker: number, at: number): void {
    const acquisition = this.#latestByWorker.get(worker);
    if (acquisition && acquisition.leftAt === undefined) {
      acquisition.leftAt = at;
      acquisition.outcome = 'killed';
    }
  }

  /** The most recent acquisition whose holder has not left yet. */
  currentHolder(): Acquisition | undefined {
    const latest = this.acquisitions.at(-1);
    return latest && latest.leftAt === undefined ? latest : undefined;
  }
}
