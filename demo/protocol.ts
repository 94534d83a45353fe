/**
 * The line protocol between the demo's workers and its ledger: one JSON object per line over a
 * loopback TCP connection. Each worker keeps one connection, so its messages arrive in order.
 */
import type { Socket } from 'node:net';
import type { ReleaseOutcome } from '../src/index.js';

/** Ms with sub-ms resolution, comparable between processes on one machine (CLOCK_MONOTONIC). */
export { sharedNow as crossProcessNow } from '../src/testing/clock.js';

/** What a worker tells the ledger. Times are {@link crossProcessNow} readings. */
export type WorkerMessage =
  | { readonly type: 'hello'; readonly worker: number; readonly pid: number }
  | {
      readonly type: 'acquired';
      readonly fence: number;
      readonly requestedAt: number;
      readonly acquiredAt: number;
      /** When the holder's lock stops being valid, by the holder's own reckoning. */
      readonly validUntil: number;
    }
  | { readonly type: 'read'; readonly id: number; readonly fence: number }
  | {
      readonly type: 'write';
      readonly id: number;
      readonly fence: number;
      readonly value: number;
      /** Validity after refreshes, or null when the holder's lock is no longer held. */
      readonly validUntil: number | null;
      /** The holder's `lock.signal` reason, had it looked: null while the lock was held. */
      readonly lostReason: string | null;
    }
  | {
      readonly type: 'released';
      readonly fence: number;
      /** Taken just before the release command was sent. */
      readonly releasedAt: number;
      readonly outcome: ReleaseOutcome | 'failed';
    }
  | { readonly type: 'problem'; readonly message: string };

/** What the ledger tells a worker. */
export type LedgerMessage =
  | { readonly type: 'start' }
  | { readonly type: 'stop' }
  | { readonly type: 'value'; readonly id: number; readonly value: number }
  | {
      readonly type: 'write-result';
      readonly id: number;
      readonly accepted: boolean;
      readonly highestFence: number;
    };

/** A line longer than this is a protocol error, not something to buffer forever. */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * Sends and receives JSON lines on a socket. Messages without a string `type` are dropped; the
 * peers are the demo's own processes, so the fields are trusted beyond that.
 */
export class LineChannel<In extends { readonly type: string }, Out> {
  #buffer = '';

  constructor(
    readonly socket: Socket,
    onMessage: (message: In) => void,
  ) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      if (this.#buffer.length > MAX_LINE_BYTES && !this.#buffer.includes('\n')) {
        socket.destroy(new Error('line too long'));
        return;
      }
      let newline = this.#buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        const message = parseMessage<In>(line);
        if (message) onMessage(message);
        newline = this.#buffer.indexOf('\n');
      }
    });
  }

  send(message: Out): void {
    if (!this.socket.destroyed && this.socket.writable) {
      this.socket.write(`${JSON.stringify(message)}\n`);
    }
  }
}

function parseMessage<T extends { readonly type: string }>(line: string): T | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && 'type' in value) {
      if (typeof value.type === 'string') return value as T;
    }
  } catch {}
  return undefined;
}

/** What a worker process needs to know, passed as one JSON argument. */
export interface WorkerConfig {
  readonly worker: number;
  readonly ledgerPort: number;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly lockName: string;
  readonly ttlMs: number;
  /** Range of the simulated work inside the critical section, in ms. */
  readonly workMs: readonly [min: number, max: number];
  /** The worker gives up and exits after this long, whatever happens to the demo. */
  readonly lifetimeMs: number;
}

export function parseWorkerConfig(text: string | undefined): WorkerConfig {
  const value: unknown = JSON.parse(text ?? 'null');
  if (typeof value !== 'object' || value === null || !('worker' in value)) {
    throw new Error('usage: worker.ts <config JSON> (started by demo/main.ts)');
  }
  return value as WorkerConfig;
}
