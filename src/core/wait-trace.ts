/**
 * Publishes one acquire of any kind: the wait's start and end on the wait TracingChannel, and the
 * `acquire` event. Nothing is built or wrapped when nobody listens.
 */
import {
  observed,
  publish,
  type WaitContext,
  type WaitOutcome,
  waitChannel,
} from '../diagnostics.js';
import { LockerClosedError, LockTimeoutError } from '../errors.js';
import { monotonicNow } from '../time.js';
import type { LockStore } from './backend.js';

/** What the events need of the handle an acquire resolves with. */
interface Acquisition {
  readonly token: string;
  readonly fencingToken: number;
}

/**
 * Runs `acquire` (the loop and the handle's making, until the caller gets it) as one traced wait
 * for `store`. `signal` is the caller's, to tell its abort from other failures.
 */
export function traceWait<H extends Acquisition>(
  store: LockStore,
  waitMs: number,
  signal: AbortSignal | undefined,
  acquire: () => Promise<H>,
): Promise<H> {
  // Decided once, at the start: a subscriber that comes mid-wait sees the next wait whole, never
  // an end without its start.
  const traced = waitChannel.hasSubscribers;
  if (!traced && !observed('acquire')) return acquire();
  const startedAt = monotonicNow();
  const context: WaitContext = { kind: store.kind, name: store.name, waitMs };
  const timed = async (): Promise<H> => {
    let handle: H;
    try {
      handle = await acquire();
    } catch (error) {
      context.outcome = outcomeOf(error, signal);
      context.waitedMs = Math.round(monotonicNow() - startedAt);
      throw error;
    }
    const waitedMs = Math.round(monotonicNow() - startedAt);
    const { token, fencingToken } = handle;
    Object.assign(context, { outcome: 'acquired', waitedMs, token, fencingToken });
    publish('acquire', { kind: store.kind, name: store.name, token, fencingToken, waitedMs });
    return handle;
  };
  return traced ? waitChannel.tracePromise(timed, context) : timed();
}

function outcomeOf(error: unknown, signal: AbortSignal | undefined): WaitOutcome {
  if (error instanceof LockTimeoutError) return 'timeout';
  if (error instanceof LockerClosedError) return 'closed';
  // The loop rejects with the signal's reason, whatever the caller aborted it with.
  if (signal?.aborted && error === signal.reason) return 'aborted';
  return 'error';
}
