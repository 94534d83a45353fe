/**
 * Clean-ups of abandoned tokens: an acquire whose outcome is unknown (its reply was lost or came
 * too late), or a waiter that gave up while queued. Each clean-up is the backend's withdraw of the
 * token: it frees what the token holds (handing the lock on) and drops the token's queue entry. A clean-up that fails is retried with backoff; one that ran while the token's last
 * command was still unsettled runs again once that command settled (ioredis may send it again after
 * a reconnect). Retrying stops when a clean-up succeeded after the last command settled, when it
 * can no longer matter (the token's lock and queue entry have surely expired), on an error that
 * cannot pass, or at close (after one last attempt).
 */
import { debug } from '../diagnostics.js';
import { MAX_DURATION_MS } from '../options.js';
import { monotonicNow } from '../time.js';
import { isPermanentError } from './failures.js';

/** Backoff between failed attempts: base, doubled per failure, capped. */
const BACKOFF_MS = { base: 50, max: 1_000 } as const;

export interface Abandoned {
  /** What the token was for (a lock key), for debug text. */
  readonly what: string;
  readonly token: string;
  /** Runs the withdraw once; rejects if it failed. */
  readonly withdraw: () => Promise<unknown>;
  /** Settles when the token's last command settles; undefined if it already has. */
  readonly lastCommand: Promise<void> | undefined;
  /**
   * How long after its last command the token can still hold the lock or be granted it (the
   * longer of its ttl and its queue entry's life); retrying longer cannot matter.
   */
  readonly mattersForMs: number;
}

interface Pending extends Abandoned {
  settled: boolean;
  /** Until when retrying can still matter; pushed back when the last command settles. */
  giveUpAt: number;
  /** A grant for the token arrived: retry now instead of after the backoff. */
  urgent: boolean;
  /** Ends the current wait early (a grant arrived, or the locker is closing). */
  interrupt: (() => void) | undefined;
}

export class CleanUps {
  readonly #pending = new Map<string, Pending>();
  readonly #running = new Set<Promise<void>>();

  constructor(
    /** Aborted by the locker's close(): waits end, one last attempt is made. */
    private readonly closed: AbortSignal,
  ) {
    closed.addEventListener('abort', () => {
      for (const pending of this.#pending.values()) pending.interrupt?.();
    });
  }

  /** Starts giving back whatever `abandoned.token` may hold or queue, in the background. */
  add(abandoned: Abandoned): void {
    const pending: Pending = {
      ...abandoned,
      settled: abandoned.lastCommand === undefined,
      giveUpAt: monotonicNow() + abandoned.mattersForMs,
      urgent: false,
      interrupt: undefined,
    };
    abandoned.lastCommand?.then(() => {
      pending.settled = true;
      pending.giveUpAt = monotonicNow() + abandoned.mattersForMs;
      pending.interrupt?.();
    });
    this.#pending.set(abandoned.token, pending);
    const running = this.#run(pending).finally(() => {
      this.#pending.delete(abandoned.token);
      this.#running.delete(running);
    });
    this.#running.add(running);
  }

  /**
   * A grant message arrived for `token`, which no waiter waits for. If it is one we abandoned,
   * give the lock back at once rather than let it sit for the token's ttl; returns whether it was.
   */
  granted(token: string): boolean {
    const pending = this.#pending.get(token);
    if (!pending) return false;
    pending.urgent = true;
    pending.interrupt?.();
    return true;
  }

  /** Resolves when every clean-up has finished (after close(), each within one last attempt). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  async #run(pending: Pending): Promise<void> {
    let failures = 0;
    for (;;) {
      const settledBefore = pending.settled;
      const last = this.closed.aborted;
      pending.urgent = false;
      try {
        await pending.withdraw();
        // A clean-up that ran before the token's last command settled may have run before it.
        if (settledBefore || last || monotonicNow() >= pending.giveUpAt) return;
        failures = 0;
        await this.#wait(pending, Number.POSITIVE_INFINITY, settledBefore);
      } catch (error) {
        if (last || isPermanentError(error) || monotonicNow() >= pending.giveUpAt) {
          debug('clean-up of %s for %s failed: %o', pending.what, pending.token, error);
          return;
        }
        failures++;
        const backoffMs = Math.min(BACKOFF_MS.max, BACKOFF_MS.base * 2 ** (failures - 1));
        await this.#wait(pending, backoffMs, settledBefore);
      }
    }
  }

  /**
   * Sleeps up to `ms` (and no later than the give-up time), ending early when the last command
   * settles, a grant arrives or the locker closes; returns at once if one of those already
   * happened since the attempt began (`settledBefore`: whether the command had settled by then).
   */
  async #wait(pending: Pending, ms: number, settledBefore: boolean): Promise<void> {
    if (pending.urgent || this.closed.aborted || (!settledBefore && pending.settled)) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      pending.interrupt = resolve;
      const left = Math.max(0, Math.min(ms, pending.giveUpAt - monotonicNow(), MAX_DURATION_MS));
      // A clean-up never keeps the process alive: if it exits, the token's lock expires anyway.
      timer = setTimeout(resolve, left);
      timer.unref();
    });
    clearTimeout(timer);
    pending.interrupt = undefined;
  }
}
