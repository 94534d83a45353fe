/**
 * The reentrant lock on one Redis (see lua/reentrant-*.lua): a semaphore of one permit held by an
 * owner, with the owner's acquisitions counted by their tokens.
 */
import type { AttemptReply, AttemptRequest } from '../../core/backend.js';
import type { RedisSession } from './backend.js';
import type { ReentrantKeys } from './keys.js';
import { ScriptStore } from './script-store.js';
import { attemptArgs } from './scripts/index.js';
import { reentrantAcquire, reentrantExtend, reentrantRelease } from './scripts/reentrant.js';

export class ReentrantStore extends ScriptStore<ReentrantKeys> {
  readonly kind = 'reentrant';

  constructor(
    session: RedisSession,
    name: string,
    keys: ReentrantKeys,
    /** Who acquires: acquisitions of one owner share the lock. */
    private readonly owner: string,
  ) {
    super(session, name, keys, { extend: reentrantExtend, release: reentrantRelease });
  }

  async attempt(request: AttemptRequest): Promise<AttemptReply> {
    const reply = await this.session.runner.runReplicated(
      reentrantAcquire,
      this.keys,
      { ...attemptArgs(request, this.session.waker.channelFor(this.keys.lock)), owner: this.owner },
      (taken) => taken.kind === 'acquired',
    );
    return reply.kind === 'acquired'
      ? { kind: 'acquired', fencingToken: reply.fencingToken }
      : reply;
  }
}
