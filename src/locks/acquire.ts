/**
 * The acquire loop of the mutex. One attempt is one script call; between attempts a waiter sleeps
 * until the release that hands it the lock wakes it (pub/sub), or until the holder's remaining PTTL
 * runs out (a crashed holder), or until its wait ends. With a retry strategy it spins instead.
 */
import { randomFillSync } from 'node:crypto';
import { LockBackendError, LockKeyConflictError, LockTimeoutError } from '../errors.js';
import { type MutexKeys, mutexKeys } from '../keys.js';
import {
  MAX_DURATION_MS,
  type ResolvedLockerOptions,
  type ResolvedLockOptions,
} from '../options.js';
import { type AcquireReply, mutexAcquire, QUEUE_MODE } from '../scripts/index.js';
import { monotonicNow, sleep } from '../time.js';
import type { PubSubWaker } from '../wake/pubsub-waker.js';
import type { ScriptRunner } from './commands.js';

/**
 * How long a queue entry stays live past its owner's planned retry. A release skips entries older
 * than that, so a waiter that died is skipped at most this long after its last attempt.
 */
const QUEUE_GRACE_MS = 2_000;
/** Backoff after a failed command: base, doubled per consecutive failure, capped. */
const ERROR_BACKOFF_MS = { base: 25, max: 1_000 } as const;

export interface AcquireContext {
  readonly runner: ScriptRunner;
  readonly waker: PubSubWaker;
  readonly locker: ResolvedLockerOptions;
  /** Aborted by `close()`; ends every wait with its reason. */
  readonly closed: AbortSignal;
  /** Compare-and-delete anything `token` may hold or queue, in the background (tracked by close). */
  readonly cleanUp: (keys: MutexKeys, token: string) => void;
}

export interface Acquired {
  readonly keys: MutexKeys;
  readonly token: string;
  readonly fencingToken: number;
  /** Monotonic time the successful attempt was sent: validity counts from here. */
  readonly sentAt: number;
}

const TOKEN_BYTES = 16;
/** Random bytes drawn in bulk: one system call per 256 tokens instead of one per token. */
const tokenPool = Buffer.alloc(TOKEN_BYTES * 256);
let tokenOffset = tokenPool.length;

/** A fresh random token: 16 bytes from the CSPRNG as 32 hex characters. */
export function newToken(): string {
  if (tokenOffset === tokenPool.length) {
    randomFillSync(tokenPool);
    tokenOffset = 0;
  }
  const token = tokenPool.toString('hex', tokenOffset, tokenOffset + TOKEN_BYTES);
  tokenOffset += TOKEN_BYTES;
  return token;
}

export async function acquireMutex(
  context: AcquireContext,
  name: string,
  options: ResolvedLockOptions,
  signal: AbortSignal | undefined,
): Promise<Acquired> {
  const { runner, waker, locker } = context;
  const keys = mutexKeys(locker.prefix, name);
  const token = newToken();
  const startedAt = monotonicNow();
  const deadline = startedAt + options.waitMs;
  const waitSignal = signal ? AbortSignal.any([signal, context.closed]) : context.closed;
  const pushWait = options.waitMs > 0 && options.retry === undefined;
  const slot = pushWait ? waker.register(token) : undefined;

  let queued = false;
  let acquired = false;
  let attempts = 0;
  let failuresInARow = 0;
  let lastError: LockBackendError | undefined;
  try {
    // Subscribe before the first attempt can queue us, so the hand-over message cannot be missed.
    if (pushWait) await waker.ready();
    for (;;) {
      waitSignal.throwIfAborted();
      attempts++;
      const sentAt = monotonicNow();
      let reply: AcquireReply | undefined;
      try {
        reply = await runner.run(mutexAcquire, keys, {
          token,
          ttlMs: options.ttlMs,
          queueMode: !pushWait ? QUEUE_MODE.never : queued ? QUEUE_MODE.queued : QUEUE_MODE.join,
          sleepCapMs: Math.min(MAX_DURATION_MS, Math.max(0, Math.ceil(deadline - sentAt))),
          graceMs: QUEUE_GRACE_MS,
          handoffMs: locker.handoffMs,
          channel: waker.channel,
        });
      } catch (error) {
        // Scripts do not roll back: a failure after the SET (e.g. a fence key holding text) can
        // leave our token behind, and a lost reply hides the outcome. Undo whatever it did.
        context.cleanUp(keys, token);
        if (!(error instanceof LockBackendError)) throw error;
        lastError = error;
        failuresInARow++;
        queued = false;
      }

      if (reply?.kind === 'conflict') throw new LockKeyConflictError(keys.lock, reply.detail);
      if (reply?.kind === 'acquired') {
        if (monotonicNow() < sentAt + options.ttlMs - options.driftMs) {
          acquired = true;
          return { keys, token, fencingToken: reply.fencingToken, sentAt };
        }
        // The reply came after the lock's validity ended: it is not ours to use. Give it back.
        queued = false;
        context.cleanUp(keys, token);
      }
      if (reply) {
        lastError = undefined;
        failuresInARow = 0;
        queued = pushWait && reply.kind === 'held';
      }

      const left = deadline - monotonicNow();
      if (left <= 0) break;
      if (reply?.kind === 'held' && slot) {
        // +1 so the key has surely expired when the timer (not a wake-up) ends the sleep.
        await slot.sleep(Math.min(left, reply.pttlMs + 1), waitSignal);
        continue;
      }
      let delayMs = 0;
      if (!reply) {
        delayMs = Math.min(ERROR_BACKOFF_MS.max, ERROR_BACKOFF_MS.base * 2 ** (failuresInARow - 1));
      } else if (reply.kind === 'held' && options.retry) {
        const next = options.retry.delayAfter(attempts, Math.random);
        if (next === undefined) break;
        delayMs = next;
      }
      await sleep(Math.min(left, delayMs), waitSignal);
    }
  } finally {
    slot?.dispose();
    // Leave the queue, and pass on a lock that a release reserved for us meanwhile.
    if (!acquired && queued) context.cleanUp(keys, token);
  }
  if (lastError) throw lastError;
  throw new LockTimeoutError(name, Math.round(monotonicNow() - startedAt));
}
