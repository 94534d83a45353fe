/**
 * The acquire loop every kind shares. One attempt is one call to the lock's store; between attempts
 * a waiter sleeps until the release that hands it the lock wakes it (push), or until the holder's
 * remaining ttl runs out (a crashed holder), or until its wait ends, but never longer than
 * QUEUE_RENEW_MS, so that its queue entry stays live. With a retry strategy it spins instead.
 */
import { randomFillSync } from 'node:crypto';
import { LockBackendError, LockTimeoutError } from '../errors.js';
import { driftMsFor, type ResolvedLockOptions } from '../options.js';
import { monotonicNow, sleep } from '../time.js';
import type { AttemptReply, BackendSession, LockStore } from './backend.js';
import { isPermanentError, pendingCommand } from './failures.js';
import {
  type Grant,
  LOOK_AGAIN,
  TAKE_OVER_POLLING,
  type WakeReason,
  type WakeSlot,
} from './wait-slots.js';

/**
 * How long a queue entry stays live past its owner's planned retry. A release skips entries older
 * than that, so a waiter that died is skipped at most this long after its last attempt.
 */
const QUEUE_GRACE_MS = 2_000;
/**
 * The longest a queued waiter sleeps before it tries again, which refreshes its queue entry, however
 * long it may wait. So an entry outlives a waiter that died by at most this plus the grace, and the
 * queue keys, set to expire after that long on every join or refresh, vanish that long after the
 * last waiter left.
 */
export const QUEUE_RENEW_MS = 20_000;
/** Backoff after a failed command: base, doubled per consecutive failure, capped. */
const ERROR_BACKOFF_MS = { base: 25, max: 1_000 } as const;

export interface AcquireContext {
  readonly session: BackendSession;
  /** Aborted by `close()`; ends every wait with its reason. */
  readonly closed: AbortSignal;
  /** Overrides QUEUE_RENEW_MS (tests, so that a renewal does not take 20 s to watch). */
  readonly queueRenewMs?: number;
  /** The locker's driftFactor: a grant's validity loses this share of the time it counts. */
  readonly driftFactor: number;
}

export interface Acquired {
  readonly token: string;
  readonly fencingToken: number;
  /** Monotonic time until which the lock is surely ours (validity, with drift taken off). */
  readonly validUntil: number;
  /**
   * True when a release granted the lock to us: its validity counts from the attempt the grant
   * followed, or is only the grant's claim window, so it can be well short of a fresh lock's; the
   * holder claims it for its ttl soon (see HeldLock.claimWithin).
   */
  readonly granted: boolean;
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

export async function acquire(
  context: AcquireContext,
  store: LockStore,
  options: ResolvedLockOptions,
  signal: AbortSignal | undefined,
): Promise<Acquired> {
  const { session } = context;
  const { waker } = session;
  let token = newToken();
  const startedAt = monotonicNow();
  const deadline = startedAt + options.waitMs;
  const waitSignal = signal ? AbortSignal.any([signal, context.closed]) : context.closed;
  const pushWait = options.waitMs > 0 && options.retry === undefined;
  let slot = pushWait ? waker.register(token, store.waitKey) : undefined;
  // Until the waker is ready (subscribed, on Redis) an attempt must not queue: a grant could not
  // reach us. A locker's first acquire then tries once while the subscription opens alongside,
  // and an acquire that finds the lock free never waits for it (about a connection set-up).
  let mayQueue = pushWait && waker.isReadyFor(store.waitKey);
  if (pushWait && !mayQueue) void waker.ready(store.waitKey);

  const renewMs = context.queueRenewMs ?? QUEUE_RENEW_MS;
  let queued = false;
  let acquired = false;
  /** How long the current token can hold the lock or be granted it after its last command. */
  let mattersForMs = options.ttlMs;
  /**
   * Undoes whatever `token` may hold or queue, and goes on with a fresh token. A token whose
   * outcome is unknown is never reused: the clean-up may run after our next attempt, and finding
   * its own token in the lock key must only ever mean "a release granted it to me".
   */
  const abandonToken = (lastCommand?: Promise<void>) => {
    store.abandon(token, lastCommand, mattersForMs);
    slot?.dispose();
    token = newToken();
    mattersForMs = options.ttlMs;
    slot = pushWait ? waker.register(token, store.waitKey) : undefined;
    queued = false;
  };
  let attempts = 0;
  /** The backend's clock when it queued the latest attempt, if it said. */
  let attemptServerTimeUs: number | undefined;
  let failuresInARow = 0;
  let lastError: LockBackendError | undefined;
  try {
    // A server or client that can never work fails here, before anything else is opened; a check
    // that failed for a reason that may pass is tried again with the first attempt.
    await session.checkServer().catch((error: unknown) => {
      if (isPermanentError(error)) throw error;
    });
    for (;;) {
      waitSignal.throwIfAborted();
      attempts++;
      const sentAt = monotonicNow();
      // Never asks for more than renewMs: the waiter renews its entry before it stops being live.
      const sleepCapMs = Math.min(renewMs, Math.max(0, Math.ceil(deadline - sentAt)));
      let reply: AttemptReply | undefined;
      // The attempt's queue entry lives until sleepCapMs + graceMs after Redis runs it.
      mattersForMs = Math.max(mattersForMs, pushWait ? sleepCapMs + QUEUE_GRACE_MS : 0);
      try {
        reply = await store.attempt({
          token,
          ttlMs: options.ttlMs,
          queue: !mayQueue ? 'never' : queued ? 'queued' : 'join',
          sleepCapMs,
          graceMs: QUEUE_GRACE_MS,
          attempt: attempts,
          polls: slot?.polls() ?? true,
          queueLifeMs: renewMs + QUEUE_GRACE_MS,
        });
      } catch (error) {
        // Scripts do not roll back: a failure after the SET (e.g. a fence key holding text) can
        // leave our token behind, and a lost reply hides the outcome. Undo whatever it did, also
        // after the command settles if it timed out (it may still run, or be sent again).
        abandonToken(pendingCommand(error));
        // A closed client, an unsupported server, missing permissions: waiting cannot help.
        if (!(error instanceof LockBackendError) || isPermanentError(error)) throw error;
        lastError = error;
        failuresInARow++;
      }

      if (reply?.kind === 'refused') throw reply.error;
      if (reply?.kind === 'acquired') {
        const validUntil = sentAt + options.ttlMs - options.driftMs;
        if (worthTaking(validUntil, options)) {
          acquired = true;
          return { token, fencingToken: reply.fencingToken, validUntil, granted: false };
        }
        // The reply came (almost) after the lock's validity ended: not ours to use. Give it back.
        abandonToken();
      }
      if (reply) {
        lastError = undefined;
        failuresInARow = 0;
        queued = mayQueue && reply.kind === 'held';
        attemptServerTimeUs = reply.kind === 'held' ? reply.serverTimeUs : undefined;
      }

      const left = deadline - monotonicNow();
      if (left <= 0) break;
      if (reply?.kind === 'held' && pushWait && !mayQueue) {
        // Held: subscribe (already under way) before the next attempt joins the queue, so the
        // hand-over message cannot be missed. A failure to subscribe leaves the slot polling.
        await waker.ready(store.waitKey);
        mayQueue = true;
        continue;
      }
      if (reply?.kind === 'held' && slot) {
        slot.heldFor(reply.pttlMs);
        // This attempt was the look a grant ahead of us asked for (see WakeSlot.lookAgainIn).
        if (slot.lookAt <= sentAt) slot.lookedAgain(reply.pttlMs);
        // Our entry had vanished, so the entries of this process's other waiters for the lock
        // (which do not poll) may have too: have them look again and get back in line.
        if (reply.requeued) slot.wakeOthers(LOOK_AGAIN);
        // Wake to refresh the entry before it stops being live, also when the wait is endless.
        const woken = await sleepUntilWoken(
          slot,
          Math.min(deadline, sentAt + sleepCapMs),
          waitSignal,
        );
        const grant = woken !== undefined && woken !== LOOK_AGAIN ? woken : undefined;
        // Only a grant that follows this attempt counts: one made before it would have made this
        // attempt find our token and take the lock, so a grant naming an older attempt lapsed
        // before this one ran (or never was); the next attempt looks. A backend that confirms
        // holds has the next attempt take every grant.
        if (grant && grant.afterAttempt === attempts && !session.grantsByAttempt) {
          const validUntil = grantValidUntil(grant, sentAt, attemptServerTimeUs, options, context);
          if (worthTaking(validUntil, options, grant)) {
            acquired = true;
            return { token, fencingToken: grant.fencingToken, validUntil, granted: true };
          }
          // The message came too late to trust the grant; the next attempt takes the lock if it
          // is still ours, with validity counted from its own send time.
        }
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
    // Leave the queue, and pass on a lock that a release granted us meanwhile.
    if (!acquired && queued) store.abandon(token, undefined, mattersForMs);
  }
  if (lastError) throw lastError;
  throw new LockTimeoutError(store.name, Math.round(monotonicNow() - startedAt));
}

/**
 * Until when a grant that followed the attempt sent at `sentAt` surely holds the lock for us.
 * A grant for our ttl: the key holds our token for the ttl from a moment after Redis ran the
 * attempt, so after it was sent. A grant for a claim window: the window from the grant, which
 * happened (attempt's send time) + (server time from the attempt to the grant) or later on our
 * clock, less drift over all the time counted. A waiter that was stopped past that finds its
 * validity over when it wakes, and never believes in a grant that lapsed and was passed on.
 */
export function grantValidUntil(
  grant: Grant,
  sentAt: number,
  attemptServerTimeUs: number | undefined,
  options: ResolvedLockOptions,
  context: AcquireContext,
): number {
  const { claim } = grant;
  if (!claim) return sentAt + options.ttlMs - options.driftMs;
  // Without the attempt's server time the grant cannot be placed: the next attempt claims it.
  if (attemptServerTimeUs === undefined) return Number.NEGATIVE_INFINITY;
  const countedMs = (claim.grantedAtUs - attemptServerTimeUs) / 1_000 + claim.ms;
  return sentAt + countedMs - driftMsFor(countedMs, context.driftFactor);
}

/**
 * Whether a lock valid until `validUntil` may be handed to the caller. Only with more validity left
 * than the drift allowance: the caller's code runs some microtask hops after this check (more on a
 * busy event loop), and a lock that ends in between must not count as acquired. A grant that fails
 * this is taken by the next attempt with fresh validity; an acquired reply is given back. A grant
 * for a claim window is measured against the window's allowance: the holder claims it at once.
 */
function worthTaking(validUntil: number, options: ResolvedLockOptions, grant?: Grant): boolean {
  const marginMs = grant?.claim ? Math.min(options.driftMs, grant.claim.ms / 4) : options.driftMs;
  return monotonicNow() < validUntil - marginMs;
}

/**
 * A queued waiter's sleep: until the release that grants it the lock wakes it, or until `wakeBy`
 * (the end of its wait, or the time to refresh its queue entry). The waiter that polls for its
 * process (see WakeSlot.polls) also wakes when the holder's key has expired, in case the holder
 * died; another waiter that takes over the polling meanwhile goes on sleeping until that same
 * moment.
 */
async function sleepUntilWoken(
  slot: WakeSlot,
  wakeBy: number,
  signal: AbortSignal,
): Promise<Exclude<WakeReason, typeof TAKE_OVER_POLLING> | undefined> {
  for (;;) {
    const left = wakeBy - monotonicNow();
    const woken = await slot.sleep(
      slot.polls() ? Math.min(left, slot.msUntilPoll()) : left,
      signal,
    );
    if (woken !== TAKE_OVER_POLLING) return woken;
  }
}
