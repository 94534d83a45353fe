/**
 * The harness's worker processes: spawned once, reused by every scenario and library (a fresh
 * library client per run), and stopped by pid at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Reply, Request, Task, TaskResult } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const SPAWN_TIMEOUT_MS = 60_000;

export class Worker {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (result: TaskResult) => void; reject: (error: Error) => void }
  >();

  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: Reply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`worker ${index}: ${message.error}`));
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`worker ${index} exited (${code ?? signal})`));
      }
      this.pending.clear();
    });
  }

  static async spawn(index: number): Promise<Worker> {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', WORKER], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new Worker(index, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${index} did not start`)),
        SPAWN_TIMEOUT_MS,
      );
      worker.pending.set(0, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
    return worker;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T extends TaskResult>(task: Task): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (result) => resolve(result as T), reject });
      this.child.send({ id, task } satisfies Request);
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}

export class WorkerPool {
  private constructor(readonly workers: readonly Worker[]) {}

  /** Spawns `count` workers, a few at a time so startup does not starve a busy machine. */
  static async start(count: number): Promise<WorkerPool> {
    const workers: Worker[] = [];
    const batch = 4;
    try {
      for (let first = 0; first < count; first += batch) {
        const indexes = Array.from({ length: Math.min(batch, count - first) }, (_, i) => first + i);
        workers.push(...(await Promise.all(indexes.map((index) => Worker.spawn(index)))));
      }
    } catch (error) {
      for (const worker of workers) worker.stop();
      throw error;
    }
    return new WorkerPool(workers);
  }

  take(count: number): Worker[] {
    if (count > this.workers.length) throw new Error(`pool has ${this.workers.length} workers`);
    return this.workers.slice(0, count);
  }

  /** Runs one task on each of `workers`, resolving when all are done. */
  static all<T extends TaskResult>(workers: readonly Worker[], task: (worker: Worker) => Task) {
    return Promise.all(workers.map((worker) => worker.call<T>(task(worker))));
  }

  stop(): void {
    for (const worker of this.workers) worker.stop();
  }
}
