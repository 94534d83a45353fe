/**
 * The read-write lock on one Redis: a counting semaphore under its own keys, in which a reader
 * takes one permit and a writer all of them. The semaphore's strict FIFO gives the lock its
 * fairness: a queued writer stops later readers from going ahead of it, and its release grants
 * the readers queued behind it all in one step. A downgrade gives back all permits but one.
 */
import type { LockMode, ReadWriteSnapshot, ReadWriteStore } from '../../core/backend.js';
import type { RedisSession } from './backend.js';
import type { SemaphoreKeys } from './keys.js';
import { semaphoreReduce } from './scripts/semaphore.js';
import { SemaphoreStore } from './semaphore-store.js';

/** The permits of a read-write lock: as many readers at once as anyone will ever run. */
export const READ_WRITE_PERMITS = 2 ** 31 - 1;

export class RedisReadWriteStore extends SemaphoreStore implements ReadWriteStore {
  constructor(session: RedisSession, name: string, keys: SemaphoreKeys, mode: LockMode) {
    super(session, name, keys, READ_WRITE_PERMITS, permitsFor(mode), 'read-write');
  }

  async downgrade(token: string): Promise<'downgraded' | 'missing'> {
    const reply = await this.session.runner.run(semaphoreReduce, this.keys, {
      token,
      permits: permitsFor('read'),
    });
    return reply === 'reduced' ? 'downgraded' : 'missing';
  }
}

function permitsFor(mode: LockMode): number {
  return mode === 'write' ? READ_WRITE_PERMITS : 1;
}

/** Reads the semaphore underneath as holders with a mode. */
export function readWriteSnapshot(semaphore: {
  readonly lastFencingToken: number;
  readonly waiters: number;
  readonly holders: readonly {
    token: string;
    remainingMs: number;
    permits: number;
    fencingToken: number;
  }[];
}): ReadWriteSnapshot {
  return {
    lastFencingToken: semaphore.lastFencingToken,
    waiters: semaphore.waiters,
    holders: semaphore.holders.map(({ token, remainingMs, permits, fencingToken }) => ({
      token,
      // Anything but one permit is a writer's, or a damaged record, which counts as a writer.
      mode: permits === 1 ? 'read' : 'write',
      remainingMs,
      fencingToken,
    })),
  };
}
