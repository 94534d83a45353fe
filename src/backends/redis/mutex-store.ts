/** The mutex's storage operations on one Redis: each step is one script (see lua/mutex-*.lua). */
import type { AttemptReply, AttemptRequest, LockKind } from '../../core/backend.js';
import { LockKeyConflictError } from '../../errors.js';
import type { RedisSession } from './backend.js';
import type { MutexKeys } from './keys.js';
import { type HoldScripts, ScriptStore } from './script-store.js';
import { mutexAcquire, mutexExtend, mutexRelease, QUEUE_MODE } from './scripts/index.js';

export class MutexStore<Keys extends MutexKeys = MutexKeys> extends ScriptStore<Keys> {
  readonly kind: LockKind = 'mutex';

  constructor(
    session: RedisSession,
    name: string,
    keys: Keys,
    scripts: HoldScripts<Keys> = { extend: mutexExtend, release: mutexRelease },
  ) {
    super(session, name, keys, scripts);
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
