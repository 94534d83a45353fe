/**
 * A worker process for the multi-process part of the conformance suite. An adapter's worker file is
 * three lines: import `runWorker`, import its `connect`, call `runWorker(connect)`. The task comes as
 * JSON in argv[2]; progress goes to stdout as JSON lines.
 *
 * Mutual exclusion is checked outside the library: inside its critical section a worker creates a
 * marker file with O_EXCL (which fails if another holder is inside) and appends its fencing token to
 * a shared file with O_APPEND, in acquisition order. A semaphore holder of k permits claims k of
 * `limit` slot files the same way: while no more than `limit` permits are held, it always finds k
 * free slots (pigeonhole), so a slot it cannot claim means the limit was exceeded. A read-write
 * holder first marks itself (a writer's O_EXCL file, or a reader's own file) and then looks for
 * the others' marks (a writer for any reader's, a reader for the writer's): of two holders that
 * overlap, the later to mark sees the earlier, whatever the interleaving. Reentrant holders mark
 * themselves the same way and look for a mark of another owner. A multi-lock holder marks each of
 * its names with O_EXCL, as a mutex holder does, and so does a leader for its term.
 */
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Locker } from '../locker.js';
import { sharedNow } from './clock.js';
import type { ConnectAdapter } from './types.js';

/** What a worker process is told to do (JSON in its argv[2]), one kind per multi-process test. */
export type WorkerTask =
  | {
      readonly kind: 'contend';
      readonly url: string;
      readonly name: string;
      readonly iterations: number;
      readonly ttlMs: number;
      readonly markerFile: string;
      readonly fenceFile: string;
    }
  | {
      readonly kind: 'hold';
      readonly url: string;
      readonly name: string;
      readonly ttlMs: number;
      readonly holdMs: number;
    }
  | {
      readonly kind: 'wait';
      readonly url: string;
      readonly name: string;
      readonly ttlMs: number;
      readonly waitMs: number;
    }
  | { readonly kind: 'lifecycle'; readonly url: string; readonly name: string }
  | {
      readonly kind: 'semaphore';
      readonly url: string;
      readonly name: string;
      readonly limit: number;
      readonly permits: number;
      readonly iterations: number;
      readonly ttlMs: number;
      /** Where holders claim one slot file per permit (O_EXCL): `limit` slots exist. */
      readonly slotDir: string;
      readonly fenceFile: string;
    }
  | {
      readonly kind: 'read-write';
      readonly url: string;
      readonly name: string;
      readonly iterations: number;
      readonly ttlMs: number;
      /** Every `writeEvery`-th iteration writes (the first one included); the others read. */
      readonly writeEvery: number;
      /** Writers downgrade to read before they release. */
      readonly downgrade: boolean;
      /** Holds the writer's mark file and a `readers` folder of readers' marks. */
      readonly markDir: string;
      /** One line per hold, in the order holders got in: "<R|W|D> <fencing token> <pid>". */
      readonly fenceFile: string;
    }
  | {
      readonly kind: 'reentrant';
      readonly url: string;
      readonly name: string;
      /** Workers with the same owner share the lock. */
      readonly owner: string;
      readonly iterations: number;
      readonly ttlMs: number;
      /** Holds one mark file per holding worker, named "<owner>.<pid>". */
      readonly markDir: string;
      /** One line per acquisition: "<owner> <fencing token> <pid>". */
      readonly fenceFile: string;
    }
  | {
      readonly kind: 'multi';
      readonly url: string;
      /** The pool each iteration picks 2 or 3 names from, in a random order. */
      readonly names: readonly string[];
      readonly iterations: number;
      readonly ttlMs: number;
      /** Holds one mark file per held name (O_EXCL). */
      readonly markDir: string;
      /** One line per name per hold: "<name> <fencing token> <pid>". */
      readonly fenceFile: string;
    }
  | {
      readonly kind: 'election';
      readonly url: string;
      readonly name: string;
      /** How many terms this worker leads before it stops. */
      readonly terms: number;
      readonly ttlMs: number;
      /** Created by a leader with O_EXCL for its term. */
      readonly markerFile: string;
      /** One line per term: "<fencing token> <pid>". */
      readonly fenceFile: string;
    };

/** What a worker process reports, one JSON line on stdout each. */
export type WorkerEvent =
  | { readonly event: 'ready' }
  | { readonly event: 'acquired'; readonly fencingToken: number; readonly at: number }
  | { readonly event: 'released'; readonly outcome: string; readonly at: number }
  | { readonly event: 'done'; readonly acquisitions: number; readonly violations: number }
  | { readonly event: 'closed'; readonly at: number }
  | { readonly event: 'error'; readonly message: string; readonly code?: string };

/** Holds for `ms`, or less if the parent sends SIGUSR2 (so it can release at a moment it picks). */
async function holdUntilToldOrAfter(ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onSignal: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    onSignal = resolve;
    process.once('SIGUSR2', onSignal);
  });
  clearTimeout(timer);
  if (onSignal) process.off('SIGUSR2', onSignal);
}

function emit(event: WorkerEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/**
 * The body of a worker process: runs the task in argv[2] on a {@link Locker} over the adapter
 * `connect` makes, reporting {@link WorkerEvent}s on stdout; a failure sets a non-zero exit code.
 */
export async function runWorker(connect: ConnectAdapter): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
  const connection = await connect(task.url);
  const locker = new Locker(connection.adapter);
  try {
    emit({ event: 'ready' });
    await runTask(locker, task);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    emit({ event: 'error', message: String(error), ...(typeof code === 'string' ? { code } : {}) });
    process.exitCode = 1;
  } finally {
    await locker.close();
    await connection.close();
    emit({ event: 'closed', at: sharedNow() });
  }
}

async function runTask(locker: Locker, task: WorkerTask): Promise<void> {
  switch (task.kind) {
    case 'contend': {
      let violations = 0;
      for (let i = 0; i < task.iterations; i++) {
        const lock = await locker.acquire(task.name, { ttlMs: task.ttlMs, waitMs: 60_000 });
        let marker: number | undefined;
        try {
          marker = openSync(task.markerFile, 'wx');
        } catch {
          violations++;
        }
        appendFileSync(task.fenceFile, `${lock.fencingToken} ${process.pid}\n`);
        // Stay inside for a turn of the event loop so an overlapping holder would find the marker.
        await new Promise((resolve) => setImmediate(resolve));
        if (marker !== undefined) {
          closeSync(marker);
          unlinkSync(task.markerFile);
        }
        await lock.release();
      }
      emit({ event: 'done', acquisitions: task.iterations, violations });
      return;
    }
    case 'hold': {
      const lock = await locker.acquire(task.name, { ttlMs: task.ttlMs });
      emit({ event: 'acquired', fencingToken: lock.fencingToken, at: sharedNow() });
      await holdUntilToldOrAfter(task.holdMs);
      const { outcome } = await lock.release();
      emit({ event: 'released', outcome, at: sharedNow() });
      return;
    }
    case 'wait': {
      const lock = await locker.acquire(task.name, { ttlMs: task.ttlMs, waitMs: task.waitMs });
      emit({ event: 'acquired', fencingToken: lock.fencingToken, at: sharedNow() });
      await lock.release();
      return;
    }
    case 'semaphore': {
      const pool = locker.semaphore(task.name, { limit: task.limit });
      let violations = 0;
      for (let i = 0; i < task.iterations; i++) {
        const permit = await pool.acquire({
          permits: task.permits,
          ttlMs: task.ttlMs,
          waitMs: 60_000,
        });
        const claimed = claimSlots(task.slotDir, task.limit, task.permits);
        if (claimed.length < task.permits) violations++;
        appendFileSync(task.fenceFile, `${permit.fencingToken} ${process.pid}\n`);
        await new Promise((resolve) => setImmediate(resolve));
        for (const slot of claimed) unlinkSync(slot);
        await permit.release();
      }
      emit({ event: 'done', acquisitions: task.iterations, violations });
      return;
    }
    case 'read-write': {
      const lock = locker.readWrite(task.name);
      const writerMark = join(task.markDir, 'writer');
      const readerMark = join(task.markDir, 'readers', `${process.pid}`);
      let violations = 0;
      for (let i = 0; i < task.iterations; i++) {
        const options = { ttlMs: task.ttlMs, waitMs: 60_000 };
        if (i % task.writeEvery === 0) {
          const write = await lock.acquireWrite(options);
          try {
            closeSync(openSync(writerMark, 'wx'));
          } catch {
            violations++;
          }
          if (readdirSync(join(task.markDir, 'readers')).length > 0) violations++;
          appendFileSync(task.fenceFile, `W ${write.fencingToken} ${process.pid}\n`);
          await new Promise((resolve) => setImmediate(resolve));
          unlinkSync(writerMark);
          if (task.downgrade) {
            // Marked as a reader before the downgrade lets other readers in: no writer can come
            // in while this one still reads.
            closeSync(openSync(readerMark, 'w'));
            await write.downgrade();
            appendFileSync(task.fenceFile, `D ${write.fencingToken} ${process.pid}\n`);
            if (existsSync(writerMark)) violations++;
            await new Promise((resolve) => setImmediate(resolve));
            unlinkSync(readerMark);
          }
          await write.release();
        } else {
          const read = await lock.acquireRead(options);
          closeSync(openSync(readerMark, 'w'));
          if (existsSync(writerMark)) violations++;
          appendFileSync(task.fenceFile, `R ${read.fencingToken} ${process.pid}\n`);
          await new Promise((resolve) => setImmediate(resolve));
          unlinkSync(readerMark);
          await read.release();
        }
      }
      emit({ event: 'done', acquisitions: task.iterations, violations });
      return;
    }
    case 'reentrant': {
      const lock = locker.reentrant(task.name);
      const mark = join(task.markDir, `${task.owner}.${process.pid}`);
      let violations = 0;
      for (let i = 0; i < task.iterations; i++) {
        await lock.withLock(
          async (_signal, held) => {
            closeSync(openSync(mark, 'w'));
            const others = readdirSync(task.markDir).filter((m) => !m.startsWith(`${task.owner}.`));
            if (others.length > 0) violations++;
            appendFileSync(task.fenceFile, `${task.owner} ${held.fencingToken} ${process.pid}\n`);
            // Nested in the same async context: shares the hold, with the same fencing token.
            await lock.withLock(async (_inner, nested) => {
              if (nested.fencingToken !== held.fencingToken) violations++;
              await new Promise((resolve) => setImmediate(resolve));
            });
            unlinkSync(mark);
          },
          { owner: task.owner, ttlMs: task.ttlMs, waitMs: 60_000 },
        );
      }
      emit({ event: 'done', acquisitions: task.iterations, violations });
      return;
    }
    case 'multi': {
      let violations = 0;
      for (let i = 0; i < task.iterations; i++) {
        const picked = shuffled(task.names).slice(0, 2 + (i % 2));
        const hold = await locker.multi(picked).acquire({ ttlMs: task.ttlMs, waitMs: 60_000 });
        const marks: string[] = [];
        for (const name of picked) {
          const mark = join(task.markDir, encodeURIComponent(name));
          try {
            closeSync(openSync(mark, 'wx'));
            marks.push(mark);
          } catch {
            violations++;
          }
          appendFileSync(
            task.fenceFile,
            `${encodeURIComponent(name)} ${hold.fencingTokens.get(name)} ${process.pid}\n`,
          );
        }
        await new Promise((resolve) => setImmediate(resolve));
        for (const mark of marks) unlinkSync(mark);
        await hold.release();
      }
      emit({ event: 'done', acquisitions: task.iterations, violations });
      return;
    }
    case 'election': {
      const election = locker.election(task.name);
      const value = String(process.pid);
      let violations = 0;
      for (let term = 0; term < task.terms; term++) {
        const leadership = await election.campaign(value, { ttlMs: task.ttlMs, waitMs: 60_000 });
        let marker: number | undefined;
        try {
          marker = openSync(task.markerFile, 'wx');
        } catch {
          violations++;
        }
        appendFileSync(task.fenceFile, `${leadership.fencingToken} ${process.pid}\n`);
        // Everyone reading the election now must see this leader, with its term and value.
        const seen = await election.leader();
        if (seen?.value !== value || seen.fencingToken !== leadership.fencingToken) violations++;
        if (marker !== undefined) {
          closeSync(marker);
          unlinkSync(task.markerFile);
        }
        await leadership.resign();
      }
      emit({ event: 'done', acquisitions: task.terms, violations });
      return;
    }
    case 'lifecycle': {
      const lock = await locker.acquire(task.name);
      emit({ event: 'acquired', fencingToken: lock.fencingToken, at: sharedNow() });
      await lock.release();
      return;
    }
  }
}

/** Claims up to `count` of the `limit` slot files (O_EXCL); returns the paths it got. */
function claimSlots(dir: string, limit: number, count: number): string[] {
  const claimed: string[] = [];
  for (let slot = 0; slot < limit && claimed.length < count; slot++) {
    const path = join(dir, String(slot));
    try {
      closeSync(openSync(path, 'wx'));
      claimed.push(path);
    } catch {}
  }
  return claimed;
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
