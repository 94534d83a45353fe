/** The counting semaphore's storage operations on one Redis (see lua/semaphore-*.lua). */
import type { AttemptReply, AttemptRequest } from '../../core/backend.js';
import { LockLimitMismatchError } from '../../errors.js';
import type { RedisSession } from './backend.js';
import type { SemaphoreKeys } from './keys.js';
import { ScriptStore } from './script-store.js';
import { attemptArgs } from './scripts/index.js';
import { semaphoreAcquire, semaphoreExtend, semaphoreRelease } from './scripts/semaphore.js';

export class SemaphoreStore extends ScriptStore<SemaphoreKeys> {
  constructor(
    session: RedisSession,
    name: string,
    keys: SemaphoreKeys,
    /** The limit this caller uses and the permits it wants, bound into every attempt. */
    private readonly limit: number,
    private readonly permits: number,
    /** The read-write lock is a semaphore underneath; diagnostics name the kind the user asked for. */
    readonly kind: 'semaphore' | 'read-write' = 'semaphore',
  ) {
    super(session, name, keys, { extend: semaphoreExtend, release: semaphoreRelease });
  }

  async attempt(request: AttemptRequest): Promise<AttemptReply> {
    const reply = await this.session.runner.runReplicated(
      semaphoreAcquire,
      this.keys,
      {
        ...attemptArgs(request, this.session.waker.channelFor(this.keys.lock)),
        limit: this.limit,
        permits: this.permits,
      },
      (taken) => taken.kind === 'acquired',
    );
    if (reply.kind !== 'limit-mismatch') return reply;
    return {
      kind: 'refused',
      error: new LockLimitMismatchError(this.name, this.limit, reply.limit),
    };
  }
}
