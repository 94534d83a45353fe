/**
 * Closes a connection once nothing has used it for a while, so a process that never calls
 * `close()` still exits. One timer serves many idle moments (a lock taken and released many times
 * a second goes idle each time): it is armed only when none is, and when it fires before the idle
 * time is up it waits out the rest.
 */
import { monotonicNow } from '../time.js';

export class IdleClose {
  #timer: NodeJS.Timeout | undefined;
  /** When the current idle moment began (monotonic ms). */
  #since = 0;

  constructor(
    private readonly idleMs: number,
    /** Whether something uses the connection now; checked again when the time is up. */
    private readonly inUse: () => boolean,
    private readonly close: () => void,
  ) {}

  /** Nothing uses the connection from now on: close it in `idleMs` unless something does by then. */
  idle(): void {
    this.#since = monotonicNow();
    if (!this.#timer) this.#arm(this.idleMs);
  }

  /** No close from here on (the owner closes for good). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.inUse()) return;
      const idleFor = monotonicNow() - this.#since;
      if (idleFor < this.idleMs) this.#arm(this.idleMs - idleFor);
      else this.close();
    }, Math.ceil(delayMs));
    this.#timer.unref();
  }
}
