/**
 * The shared storage the workers update: a counter that every holder reads, increments and writes
 * back. It is guarded by fencing tokens: it remembers the highest token it has accepted, and
 * refuses a write with a lower one, so a holder that lost its lock without knowing cannot
 * overwrite newer data.
 *
 * Reads carry the token too and raise the mark. Fencing writes alone would leave a gap in a
 * read-modify-write: a stale holder that writes after the new holder's read, but before its write,
 * would be accepted, and the new holder's write would then silently drop that increment.
 */

export interface WriteResult {
  readonly accepted: boolean;
  readonly highestFence: number;
}

export interface RefusedWrite {
  readonly worker: number;
  readonly fence: number;
  /** The highest token the ledger had accepted (in a read or a write) when this write arrived. */
  readonly highestFence: number;
  /** What the writer's `lock.signal` said at the time; it did not look. */
  readonly lostReason: string | null;
  readonly at: number;
}

export class FencedLedger {
  #value = 0;
  #highestFence = 0;
  #acceptedWrites = 0;
  readonly #refused: RefusedWrite[] = [];

  get value(): number {
    return this.#value;
  }

  get highestFence(): number {
    return this.#highestFence;
  }

  get acceptedWrites(): number {
    return this.#acceptedWrites;
  }

  get refusedWrites(): readonly RefusedWrite[] {
    return this.#refused;
  }

  read(fence: number): number {
    this.#highestFence = Math.max(this.#highestFence, fence);
    return this.#value;
  }

  write(
    write: { worker: number; fence: number; value: number; lostReason: string | null },
    at: number,
  ): WriteResult {
    if (write.fence < this.#highestFence) {
      this.#refused.push({
        worker: write.worker,
        fence: write.fence,
        highestFence: this.#highestFence,
        lostReason: write.lostReason,
        at,
      });
      return { accepted: false, highestFence: this.#highestFence };
    }
    this.#highestFence = write.fence;
    this.#value = write.value;
    this.#acceptedWrites++;
    return { accepted: true, highestFence: this.#highestFence };
  }
}
