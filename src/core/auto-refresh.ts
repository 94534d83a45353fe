/**
 * The watchdog: extends a held lock every `refreshMs` on an unref'd timer, so it never keeps the
 * process alive and never throws. A failed extension is retried sooner; a refused one means the
 * lock is lost (the handle's signal aborts). It stops at `maxHoldMs`, after which the lock runs
 * out and is reported lost with reason `'max-hold'`.
 */
import { debug } from '../diagnostics.js';
import { LockNotHeldError } from '../errors.js';
import { MIN_TTL_MS, type ResolvedLockOptions } from '../options.js';
import { monotonicNow } from '../time.js';

/** What the watchdog needs of a held lock; the lock owns the watchdog, never the other way. */
export interface Refreshable {
  readonly name: string;
  readonly remainingMs: number;
  /** Extends the lock (see Lock.extend), as the watchdog. */
  refresh(ttlMs: number): Promise<void>;
  /** From now on the lock's expiry is reported as a loss with this reason. */
  stopExtending(reason: 'max-hold'): void;
}

/** After a failed extension, try again after this share of the remaining validity. */
const RETRY_SHARE = 1 / 4;
const MIN_RETRY_MS = 10;

export class AutoRefresh {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly handle: Refreshable,
    private readonly options: ResolvedLockOptions,
    private readonly acquiredAt: number,
  ) {
    this.#schedule(options.refreshMs);
  }

  /** Brings the next extension forward to `delayMs` from now (a granted lock's claim). */
  refreshWithin(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#schedule(delayMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const holdLeft = this.acquiredAt + this.options.maxHoldMs - monotonicNow();
    // An extension shorter than the minimum ttl is not worth a round trip; let the lock run out.
    if (holdLeft < MIN_TTL_MS) {
      this.handle.stopExtending('max-hold');
      return;
    }
    // The last extension asks for the hold's remainder only. An extension never shortens the key,
    // so if a manual extend() pushed the expiry further the lock keeps it, and the handle counts
    // its validity (and the 'max-hold' loss) from the expiry Redis reports.
    const lastExtension = holdLeft <= this.options.ttlMs;
    try {
      await this.handle.refresh(lastExtension ? Math.floor(holdLeft) : this.options.ttlMs);
      if (lastExtension) this.handle.stopExtending('max-hold');
      else this.#schedule(this.options.refreshMs);
    } catch (error) {
      if (error instanceof LockNotHeldError) return; // lost or released: the handle has reported it
      debug('auto-refresh of %s failed, retrying: %o', this.handle.name, error);
      const retryIn = Math.max(MIN_RETRY_MS, this.handle.remainingMs * RETRY_SHARE);
      this.#schedule(Math.min(this.options.refreshMs, retryIn));
    }
  }
}
