/** The mutex's storage operations on one Redis: each step is one script (see lua/mutex-*.lua). */
import type { AttemptReply, AttemptRequest } from '../../core/backend.js';
import { LockKeyConflictError } from '../../errors.js';
import type { RedisSession } from './backend.js';
import type { MutexKeys } from './keys.js';
import { ScriptStore } from './script-store.js';
import { mutexAcquire, mutexExtend, mutexRelease, QUEUE_MODE } from './scripts/index.js';

export class MutexStore extends ScriptStore<MutexKeys> {
  readonly kind = 'mutex';

  constructor(session: RedisSession, name: string, keys: MutexKeys) {
    super(session, name, keys, { extend: mutexExtend, release: mutexRelease });
  }

  async attempt(request: AttemptRequest): Promise<AttemptReply> {
    const reply = await this.session.runner.run(mutexAcquire, this.keys, {
      ...request,
      queueMode: QUEUE_MODE[request.queue],
      channel: this.session.waker.channel,
    });
    if (reply.kind !== 'conflict') return reply;
    return { kind: 'refused', error: new LockKeyConflictError(this.keys.lock, reply.detail) };
  }
}
