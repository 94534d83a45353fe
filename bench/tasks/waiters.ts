/**
 * Many waiters: this process keeps `waiters` loops queued on one lock. Each loop acquires, holds,
 * releases and goes straight back to the end of the line, so the number waiting stays constant
 * while the harness measures Redis around the handoffs.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowUs } from '../clock.js';
import type { LockClient } from '../libs/types.js';
import type { Task, WaitersStarted, WaitersStopped } from '../protocol.js';

const ERROR_PAUSE_MS = 50;

export class WaiterCrowd {
  private readonly stop = new AbortController();
  private readonly acquiredUs: number[] = [];
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
    this.loops = Array.from({ length: task.waiters }, () => this.loop(task));
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
    const inWindow = this.acquiredUs.filter(
      (at) => at >= task.windowStartUs && at < task.windowEndUs,
    ).length;
    return {
      handoffsInWindow: inWindow,
      acquisitions: this.acquiredUs.length,
      giveUps: this.giveUps,
      errors: this.errors,
      lastError: this.lastError,
      unfinished: this.running,
    };
  }

  private async loop(task: Extract<Task, { kind: 'waiters-start' }>): Promise<void> {
    this.running++;
    try {
      while (!this.stop.signal.aborted) {
        try {
          const held = await this.client.acquire(task.key, task.ttlMs, this.stop.signal);
          if (!held) {
            this.giveUps++;
            continue;
          }
          this.acquiredUs.push(nowUs());
          await sleep(task.holdMs);
          await held.release();
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
