/** What a kind gets from its locker: the backend, the locker's options, and the shared acquire. */
import type { LockBackend, LockStore } from '../core/backend.js';
import type { HeldLock, HeldLockContext } from '../core/held-lock.js';
import type { ResolvedLockerOptions, ResolvedLockOptions } from '../options.js';

/** Makes the kind's handle once the loop acquired: a HeldLock, or a subclass with more to say. */
export type MakeHandle<H extends HeldLock> = (
  context: HeldLockContext,
  acquired: { readonly token: string; readonly fencingToken: number; readonly validUntil: number },
) => H;

export interface KindContext {
  readonly backend: LockBackend;
  readonly options: ResolvedLockerOptions;
  /** Throws LockerClosedError once the locker is closing. */
  assertOpen(): void;
  /** Aborts when the locker starts closing: what runs on beyond an acquire (observers) stops. */
  readonly closed: AbortSignal;
  /**
   * Runs the acquire loop on `store` and returns the handle, tracked by the locker until released
   * or lost (close() reports it lost, then releases it).
   */
  acquireHeld<H extends HeldLock>(
    store: LockStore,
    options: ResolvedLockOptions,
    signal: AbortSignal | undefined,
    make: MakeHandle<H>,
  ): Promise<H>;
}
