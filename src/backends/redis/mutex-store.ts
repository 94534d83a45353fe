/** The mutex's storage operations on one Redis: each step is one script (see lua/mutex-*.lua). */
import type { AttemptReply, AttemptRequest, LockKind } from '../../core/backend.js';
import { LockKeyConflictError } from '../../errors.js';
import type { RedisSession } from './backend.js';
import type { MutexKeys } from './keys.js';
import { type HoldScripts, ScriptStore } from './script-store.js';
import { attemptArgs, mutexAcquire, mutexExtend, mutexRelease } from './scripts/index.js';

const MUTEX_SCRIPTS = { extend: mutexExtend, release: mutexRelease };

export class MutexStore<Keys extends MutexKeys = MutexKeys> extends ScriptStore<Keys> {
  readonly kind: LockKind = 'mutex';

  constructor(
    session: RedisSession,
    name: string,
    keys: Keys,
    scripts: HoldScripts<Keys> = MUTEX_SCRIPTS,
  ) {
    super(session, name, keys, scripts);
  }

  watchLoss(token: string, onLost: (reason: 'expired' | 'taken') => void): () => void {
    return this.session.lossWatcher.watch(this.keys.lock, token, onLost);
  }

  async attempt(request: AttemptRequest): Promise<AttemptReply> {
    const reply = await this.session.runner.runReplicated(
      mutexAcquire,
      this.keys,
      attemptArgs(request, this.session.waker.channelFor(this.keys.lock)),
      (taken) => taken.kind === 'acquired',
    );
    if (reply.kind !== 'conflict') return reply;
    return { kind: 'refused', error: new LockKeyConflictError(this.keys.lock, reply.detail) };
  }
}
