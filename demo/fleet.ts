/**
 * The worker processes: spawns them (`node --import tsx demo/worker.ts`), relays their output with
 * a prefix, sends them signals, and makes sure none outlives the demo.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig } from './protocol.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.ts', import.meta.url));
const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Member {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
}

const everyChild = new Set<ChildProcess>();
// Last resort if the demo dies without cleaning up: kill works on stopped processes too.
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

export class Fleet {
  readonly #members = new Map<number, Member>();

  constructor(configs: readonly WorkerConfig[], onOutput: (worker: number, line: string) => void) {
    for (const config of configs) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(config)],
        { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      everyChild.add(child);
      for (const stream of [child.stdout, child.stderr]) {
        if (stream)
          createInterface({ input: stream }).on('line', (line) => onOutput(config.worker, line));
      }
      const member: Member = {
        child,
        status: undefined,
        exited: new Promise((resolve) => {
          child.once('exit', (code, signal) => {
            everyChild.delete(child);
            member.status = { code, signal };
            resolve(member.status);
          });
        }),
      };
      this.#members.set(config.worker, member);
    }
  }

  pid(worker: number): number | undefined {
    return this.#members.get(worker)?.child.pid;
  }

  status(worker: number): ExitStatus | undefined {
    return this.#members.get(worker)?.status;
  }

  /** Workers whose process is still running. */
  get running(): number[] {
    return [...this.#members].filter(([, m]) => m.status === undefined).map(([worker]) => worker);
  }

  signal(worker: number, signal: NodeJS.Signals): boolean {
    const member = this.#members.get(worker);
    return member?.status === undefined && (member?.child.kill(signal) ?? false);
  }

  /** Resolves when every worker has exited, or after `ms`; returns the workers still running. */
  async waitForExit(ms: number): Promise<number[]> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.#members.values()].map((m) => m.exited)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    return this.running;
  }

  /**
   * Ends every worker still running: continues stopped ones, asks with SIGTERM, and kills what is
   * left after `graceMs`.
   */
  async terminate(graceMs: number): Promise<void> {
    for (const worker of this.running) {
      this.signal(worker, 'SIGCONT');
      this.signal(worker, 'SIGTERM');
    }
    for (const worker of await this.waitForExit(graceMs)) this.signal(worker, 'SIGKILL');
    await this.waitForExit(graceMs);
  }
}
