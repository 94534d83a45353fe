/**
 * The demo's two faults, both aimed at a worker inside the critical section: the ledger has just
 * received its read (it holds the lock), and the signal is sent before the ledger replies, so the
 * worker cannot write in between.
 *
 * 1. Pause: SIGSTOP the holder, like a long GC pause or a frozen VM, and SIGCONT it after more than
 *    its ttl, once a newer holder has used the ledger. It wakes up unaware and writes with its old
 *    token.
 * 2. Crash: SIGKILL a holder. It never releases; the others must get the lock when it expires.
 */
import type { Fleet } from './fleet.js';
import { ms } from './format.js';
import type { Journal } from './journal.js';
import type { FencedLedger } from './ledger.js';
import type { LedgerObserver } from './ledger-server.js';
import { crossProcessNow, type WorkerMessage } from './protocol.js';

export interface FaultSchedule {
  /** Pause the first holder that reads the ledger from this time on. */
  readonly pauseAt: number;
  /** How long to keep it stopped, at least: more than the ttl. */
  readonly pauseMs: number;
  /** Kill the first holder, other than the paused worker, that reads from this time on. */
  readonly killAt: number;
  /** Resume the paused worker after this much more even if no newer holder used the ledger. */
  readonly resumeGraceMs: number;
}

export interface Fault {
  readonly worker: number;
  readonly pid: number;
  /** The fencing token the worker held when it was hit. */
  readonly fence: number;
  readonly at: number;
}

export interface Pause extends Fault {
  resumedAt: number | undefined;
}

/** When the faults happen, in ms from the start of the run. */
export interface FaultTiming {
  readonly pauseAtMs: number;
  readonly pauseMs: number;
  readonly killAtMs: number;
  readonly resumeGraceMs: number;
}

/**
 * Pause about a fifth into the run, for 2.5 ttl (at least ttl + 1.5 s); kill a bit past half-way,
 * at least 1 s after the resume. Returns undefined when the run is too short to see the recovery
 * from the kill (one ttl) with a margin.
 */
export function faultTiming(durationMs: number, ttlMs: number): FaultTiming | undefined {
  const pauseAtMs = Math.max(1_500, 0.2 * durationMs);
  const pauseMs = Math.max(2.5 * ttlMs, ttlMs + 1_500);
  const killAtMs = Math.max(pauseAtMs + pauseMs + 1_000, 0.55 * durationMs);
  if (killAtMs + 2 * ttlMs + 1_500 > durationMs) return undefined;
  return { pauseAtMs, pauseMs, killAtMs, resumeGraceMs: 10 * ttlMs };
}

/** The shortest whole number of seconds for which {@link faultTiming} has room, if any. */
export function shortestDurationS(ttlMs: number, maxS: number): number | undefined {
  for (let seconds = 1; seconds <= maxS; seconds++) {
    if (faultTiming(seconds * 1_000, ttlMs)) return seconds;
  }
  return undefined;
}

/** How often to check, after the pause's length, whether a newer holder has used the ledger yet. */
const RESUME_POLL_MS = 50;

export class FaultPlan implements LedgerObserver {
  paused: Pause | undefined;
  killed: Fault | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  #pauseTakenOver = false;
  #killTakenOver = false;

  constructor(
    private readonly schedule: FaultSchedule,
    private readonly fleet: Fleet,
    private readonly ledger: FencedLedger,
    private readonly journal: Journal,
    private readonly log: (text: string) => void,
  ) {}

  received(worker: number, message: WorkerMessage, at: number): void {
    if (message.type === 'acquired') {
      this.#narrateTakeover(worker, message.fence, message.acquiredAt);
    }
    if (message.type !== 'read') return;
    const pid = this.fleet.pid(worker);
    if (pid === undefined) return;
    if (!this.paused && at >= this.schedule.pauseAt) {
      if (!this.fleet.signal(worker, 'SIGSTOP')) return;
      this.paused = { worker, pid, fence: message.fence, at, resumedAt: undefined };
      this.log(
        `SIGSTOP w${worker} (pid ${pid}) while it holds the lock with fencing token ${message.fence}, between its ledger read and write`,
      );
      this.#resumeLater(this.paused);
    } else if (
      this.paused?.resumedAt !== undefined &&
      !this.killed &&
      at >= this.schedule.killAt &&
      worker !== this.paused.worker
    ) {
      if (!this.fleet.signal(worker, 'SIGKILL')) return;
      this.killed = { worker, pid, fence: message.fence, at };
      this.journal.markKilled(worker, at);
      this.log(
        `SIGKILL w${worker} (pid ${pid}) while it holds the lock with fencing token ${message.fence}; it will never release it`,
      );
    }
  }

  /** Tells when another worker first gets the lock a fault left behind. */
  #narrateTakeover(worker: number, fence: number, acquiredAt: number): void {
    if (this.paused && !this.#pauseTakenOver && fence > this.paused.fence) {
      this.#pauseTakenOver = true;
      this.log(
        `w${worker} acquired the lock (token ${fence}) ${ms(acquiredAt - this.paused.at)} after the pause: w${this.paused.worker}'s lock expired`,
      );
    }
    if (this.killed && !this.#killTakenOver && fence > this.killed.fence) {
      this.#killTakenOver = true;
      this.log(
        `w${worker} acquired the lock (token ${fence}) ${ms(acquiredAt - this.killed.at)} after the kill: the dead holder's lock expired`,
      );
    }
  }

  /** Continues a paused worker if the demo ends first. */
  dispose(): void {
    clearTimeout(this.#resumeTimer);
    if (this.paused && this.paused.resumedAt === undefined) this.#resume(this.paused);
  }

  #resumeLater(pause: Pause): void {
    const earliest = pause.at + this.schedule.pauseMs;
    const latest = earliest + this.schedule.resumeGraceMs;
    const check = () => {
      const now = crossProcessNow();
      // Resume only once a newer holder has used the ledger, so the late write meets a higher token.
      if (now >= latest || (now >= earliest && this.ledger.highestFence > pause.fence)) {
        this.#resume(pause);
      } else {
        this.#resumeTimer = setTimeout(check, Math.max(RESUME_POLL_MS, earliest - now));
      }
    };
    this.#resumeTimer = setTimeout(check, this.schedule.pauseMs);
  }

  #resume(pause: Pause): void {
    pause.resumedAt = crossProcessNow();
    this.fleet.signal(pause.worker, 'SIGCONT');
    this.log(
      `SIGCONT w${pause.worker} after ${ms(pause.resumedAt - pause.at)}; it goes on as if it still held the lock`,
    );
  }
}
