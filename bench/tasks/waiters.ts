/**
 * Many waiters: this process keeps `waiters` loops queued on one lock. Each loop acquires, holds,
 * releases and goes straight back to the end of the line, so the number waiting stays constant
 * while the harness measures Redis around the handoffs. With `readWrite` set, each turn of each
 * waiter reads or writes, drawn from the waiter's own seeded mix.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs } from '../clock.js';
import type { HeldLock, LockClient } from '../libs/types.js';
import { operationMix } from '../mix.js';
import type { Task, WaitersStarted, WaitersStopped } from '../protocol.js';

const ERROR_PAUSE_MS = 50;

export class WaiterCrowd {
  private readonly stop = new AbortController();
  private readonly acquiredUs: number[] = [];
  /** Per acquisition (aligned with acquiredUs): true for a read. */
  private readonly reads: boolean[] = [];
  private loops: Promise<void>[] = [];
  private running = 0;
  private giveUps = 0;
  private errors = 0;
  private lastError: string | undefined;

  constructor(private readonly client: LockClient) {
    // Every waiter's acquire listens on this one signal.
    setMaxListeners(0, this.stop.signal);
  }

  async start(task: Extract<Task, { kind: 'waiters-start' }>): Promise<WaitersStarted> {
    const before = measureMemory();
    this.loops = Array.from({ length: task.waiters }, (_, index) => this.loop(task, index));
    await sleep(task.settleMs);
    const after = measureMemory();
    return {
      heapBytesPerWaiter: (after.heap - before.heap) / task.waiters,
      rssBytesPerWaiter: (after.rss - before.rss) / task.waiters,
    };
  }

  async finish(task: Extract<Task, { kind: 'waiters-stop' }>): Promise<WaitersStopped> {
    this.stop.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.loops),
      new Promise((resolve) => {
        timer = setTimeout(resolve, task.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    let inWindow = 0;
    let readsInWindow = 0;
    this.acquiredUs.forEach((at, i) => {
      if (at < task.windowStartUs || at >= task.windowEndUs) return;
      inWindow++;
      if (this.reads[i]) readsInWindow++;
    });
    return {
      handoffsInWindow: inWindow,
      readsInWindow,
      acquisitions: this.acquiredUs.length,
      giveUps: this.giveUps,
      errors: this.errors,
      lastError: this.lastError,
      unfinished: this.running,
    };
  }

  private async loop(task: Extract<Task, { kind: 'waiters-start' }>, index: number): Promise<void> {
    const { readWrite } = task;
    // Waiter `index` of process `seed` draws its own sequence; any process count keeps them apart.
    const draw = readWrite
      ? operationMix(readWrite.seed * 1_000_003 + index, readWrite.readPercent)
      : undefined;
    const acquire = (read: boolean): Promise<HeldLock | null> => {
      const { client } = this;
      const signal = this.stop.signal;
      if (!readWrite || readWrite.lock === 'mutex') {
        return client.acquire(task.key, task.ttlMs, signal);
      }
      const take = read ? client.acquireRead : client.acquireWrite;
      if (!take) throw new Error('this library has no read-write lock');
      return take.call(client, task.key, task.ttlMs, signal);
    };
    // A give-up or an error tries the same operation again; a turn done draws the next.
    let read = draw?.() === 'read';
    this.running++;
    try {
      while (!this.stop.signal.aborted) {
        try {
          const held = await acquire(read);
          if (!held) {
            this.giveUps++;
            continue;
          }
          this.acquiredUs.push(nowUs());
          this.reads.push(read);
          await sleep(task.holdMs);
          await held.release();
          read = draw?.() === 'read';
        } catch (error) {
          if (this.stop.signal.aborted) break;
          this.errors++;
          this.lastError = String(error);
          await sleep(ERROR_PAUSE_MS);
        }
      }
    } finally {
      this.running--;
    }
  }
}

function measureMemory(): { heap: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}
