/**
 * Leader election, built on the lock (as etcd's Campaign / Observe / Resign): candidates campaign
 * with a value (their host name, say) and wait in line; the one holding the lock leads, with a
 * term (its fencing token) that grows with every new leader, and learns at once through its
 * signal when it stops leading. Observers are told of every change by push: a proclaim or a
 * resign publishes on the election's channel. A leader that dies without resigning is noticed
 * when its lease ends: a waiting candidate takes over then (and proclaims), and an observer with
 * no candidate behind looks again at that moment.
 */
import type { ElectionStore, LeaderSnapshot } from '../core/backend.js';
import {
  HeldLock,
  type HeldLockContext,
  type Lock,
  type ReleaseResult,
} from '../core/held-lock.js';
import { observeChanges } from '../core/observe-changes.js';
import { InvalidArgumentError } from '../errors.js';
import {
  type AcquireOptions,
  checkName,
  checkSignal,
  resolveLockOptions,
  resolveObserveSignal,
} from '../options.js';
import type { KindContext } from './context.js';

/** Longest value a leader may proclaim, in bytes of UTF-8. */
export const MAX_LEADER_VALUE_BYTES = 65_536;

/** After a failed read, an observer tries again this much later (or at the next change). */
const OBSERVE_RETRY_MS = 500;
/** An observer looks again this long after the leader's lease should have ended. */
const LEASE_END_MARGIN_MS = 5;

/** The current leader, as anyone reads it. */
export interface Leader {
  /** What the leader proclaimed. */
  readonly value: string;
  /** The leader's term: its fencing token, larger for every new leader of the election. */
  readonly fencingToken: number;
  /** Ms left of its lease unless it extends (it does, while it runs). */
  readonly remainingMs: number;
}

/** Leading an election: a held lock that also carries the value it leads with. */
export interface Leadership extends Lock {
  /** The value it proclaimed last. */
  readonly value: string;
  /** Changes the value observers see; rejects with `LockNotHeldError` once it no longer leads. */
  proclaim(value: string): Promise<void>;
  /** Stops leading (the same as `release()`): the next candidate in line leads at once. */
  resign(): Promise<ReleaseResult>;
}

/** Options of {@link Election.observe}. */
export interface ObserveOptions {
  /** Ends the observation: the iteration finishes. */
  signal?: AbortSignal | undefined;
}

class HeldLeadership extends HeldLock implements Leadership {
  #value: string;
  readonly #store: ElectionStore;

  constructor(
    context: HeldLockContext,
    acquired: {
      readonly token: string;
      readonly fencingToken: number;
      readonly validUntil: number;
    },
    store: ElectionStore,
    value: string,
  ) {
    super(context, store.name, acquired.token, acquired.fencingToken, acquired.validUntil);
    this.#store = store;
    this.#value = value;
  }

  get value(): string {
    return this.#value;
  }

  proclaim(value: string): Promise<void> {
    try {
      checkValue(value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.changeHold(async () => {
      const reply = await this.#store.proclaim(this.token, this.fencingToken, value);
      if (reply === 'missing') return 'missing';
      this.#value = value;
      return 'changed';
    });
  }

  resign(): Promise<ReleaseResult> {
    return this.release();
  }
}

/**
 * Leader election on one name, as etcd's Campaign / Observe / Resign: `campaign` waits in line to
 * lead, `leader` and `observe` show who leads. Made by `locker.election(name)`, without a Redis call.
 */
export class Election {
  readonly name: string;
  readonly #context: KindContext;

  constructor(context: KindContext, name: string) {
    this.#context = context;
    this.name = checkName(name);
  }

  /**
   * Waits in line (up to `waitMs`; `Infinity` to wait until `signal` aborts) until this caller
   * leads, then proclaims `value`. Rejects like `Locker.acquire`. Keep the leadership's `signal`:
   * it aborts the moment leadership is lost.
   *
   * @example
   * const leadership = await election.campaign(os.hostname(), { waitMs: Infinity });
   * await runScheduler({ signal: leadership.signal, term: leadership.fencingToken });
   */
  async campaign(value: string, options?: AcquireOptions): Promise<Leadership> {
    this.#context.assertOpen();
    checkValue(value);
    const resolved = resolveLockOptions(this.#context.options, options);
    const signal = checkSignal(options?.signal);
    const store = this.#context.backend.election(this.name);
    const leadership = await this.#context.acquireHeld(
      store,
      resolved,
      signal,
      (context, acquired) => new HeldLeadership(context, acquired, store, value),
    );
    try {
      await leadership.proclaim(value);
    } catch (error) {
      await leadership.release().catch(() => {});
      throw error;
    }
    return leadership;
  }

  /** The current leader, once it has proclaimed; `undefined` when none leads. */
  async leader(): Promise<Leader | undefined> {
    this.#context.assertOpen();
    return toLeader(await this.#context.backend.inspectElection(this.name));
  }

  /**
   * The leader now, then every change: a new leader or value, or none (`undefined`). Changes are
   * pushed; a leader that dies without resigning shows when its lease ends. Ends when `signal`
   * aborts or the locker closes; a failed read is tried again, never thrown. Its first step
   * rejects if the locker cannot subscribe to the election's changes (Redis unreachable).
   *
   * @example
   * for await (const leader of election.observe({ signal })) console.log(leader?.value);
   */
  observe(options?: ObserveOptions): AsyncGenerator<Leader | undefined, void, undefined> {
    this.#context.assertOpen();
    return this.#observe(resolveObserveSignal(options));
  }

  #observe(signal: AbortSignal | undefined): AsyncGenerator<Leader | undefined, void, undefined> {
    const { backend, closed } = this.#context;
    return observeChanges<Leader | undefined>(
      {
        label: `election ${this.name}`,
        watch: (onChange) => backend.watchElection(this.name, onChange),
        read: async () => toLeader(await backend.inspectElection(this.name)),
        same: sameLeader,
        // Until a change is announced, the leader's lease may have ended, or the end.
        lookAgainMs: (last, readFailed) =>
          readFailed ? OBSERVE_RETRY_MS : last ? last.remainingMs + LEASE_END_MARGIN_MS : undefined,
      },
      signal,
      closed,
    );
  }
}

function sameLeader(a: Leader | undefined, b: Leader | undefined): boolean {
  if (!a || !b) return a === b;
  return a.fencingToken === b.fencingToken && a.value === b.value;
}

function toLeader(snapshot: LeaderSnapshot | undefined): Leader | undefined {
  if (!snapshot) return undefined;
  const { value, fencingToken, remainingMs } = snapshot;
  return { value, fencingToken, remainingMs: Math.max(0, remainingMs) };
}

function checkValue(value: unknown): void {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError('value', `must be a string (got ${typeof value})`);
  }
  if (!value.isWellFormed()) {
    throw new InvalidArgumentError(
      'value',
      'must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  if (Buffer.byteLength(value) > MAX_LEADER_VALUE_BYTES) {
    throw new InvalidArgumentError(
      'value',
      `must be at most ${MAX_LEADER_VALUE_BYTES} bytes of UTF-8`,
    );
  }
}
