/**
 * Child processes of a fault run: TypeScript entry points started from their bundles, tracked so that every
 * one of them is ended when the run ends (stopped ones are continued first, then SIGTERM, then
 * SIGKILL after a grace period), also when the orchestrator itself fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledEntry } from '../helpers/bundled-entry.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root, the children's working directory. */
export const repoRoot = resolve(here, '..', '..');
export const faultsDir = here;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {}
  }
});

export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** What the child wrote to stderr (last 4 kB), for failure messages. */
  stderr(): string;
}

export function track(child: ChildProcess): Spawned {
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_096);
  });
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', () => done());
  }).finally(() => running.delete(child));
  if (child.pid === undefined) throw new Error('child process did not start');
  return { child, pid: child.pid, exited, stderr: () => stderr };
}

/** Starts `<file>` (beside this module) from its bundle, in the package root, optionally with IPC. */
export function spawnTs(file: string, args: readonly string[], ipc: boolean): Spawned {
  const child = spawn(process.execPath, [bundledEntry(resolve(here, file)), ...args], {
    cwd: repoRoot,
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  return track(child);
}

export function isAlive(spawned: Spawned): boolean {
  return spawned.child.exitCode === null && spawned.child.signalCode === null;
}

export function signal(spawned: Spawned, name: NodeJS.Signals): void {
  if (isAlive(spawned)) spawned.child.kill(name);
}

/** Ends a child: SIGCONT (in case it is stopped), SIGTERM, then SIGKILL after `graceMs`. */
export async function terminate(spawned: Spawned, graceMs = 2_000): Promise<void> {
  if (!isAlive(spawned)) return;
  signal(spawned, 'SIGCONT');
  signal(spawned, 'SIGTERM');
  const timer = setTimeout(() => signal(spawned, 'SIGKILL'), graceMs);
  await spawned.exited;
  clearTimeout(timer);
}

/** Waits for a line of the child's stdout that matches `pattern`, for up to `ms`. */
export function waitForLine(
  spawned: Spawned,
  pattern: RegExp,
  ms: number,
): Promise<RegExpMatchArray> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no line matching ${pattern} within ${ms} ms: ${spawned.stderr()}`));
    }, ms);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = text.match(pattern);
      if (match) {
        cleanup();
        resolvePromise(match);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`process exited before printing ${pattern}: ${spawned.stderr()}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      spawned.child.stdout?.off('data', onData);
      spawned.child.off('exit', onExit);
    }
    spawned.child.stdout?.on('data', onData);
    spawned.child.once('exit', onExit);
  });
}
