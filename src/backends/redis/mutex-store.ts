/** The mutex's storage operations on one Redis: each step is one script (see lua/mutex-*.lua). */
import type { AttemptReply, AttemptRequest, LockStore, ReleaseReply } from '../../core/backend.js';
import { LockKeyConflictError } from '../../errors.js';
import type { RedisSession } from './backend.js';
import type { MutexKeys } from './keys.js';
import { mutexAcquire, mutexExtend, mutexRelease, QUEUE_MODE } from './scripts/index.js';

export class MutexStore implements LockStore {
  constructor(
    private readonly session: RedisSession,
    readonly name: string,
    readonly keys: MutexKeys,
  ) {}

  get waitKey(): string {
    return this.keys.lock;
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

  extend(token: string, ttlMs: number) {
    return this.session.runner.run(mutexExtend, this.keys, { token, ttlMs });
  }

  release(token: string, timeoutMs: number): Promise<ReleaseReply> {
    // The tombstone lasts as long as we wait for the reply: a client that resends the release
    // after a reconnect within that time gets "released" again, not what the first run left.
    return this.session.runner.run(
      mutexRelease,
      this.keys,
      { token, withdraw: false, tombstoneMs: timeoutMs },
      timeoutMs,
    );
  }

  abandon(token: string, lastCommand: Promise<void> | undefined, mattersForMs: number): void {
    this.session.cleanUps.add({
      what: this.keys.lock,
      token,
      withdraw: () => this.session.runner.run(mutexRelease, this.keys, { token, withdraw: true }),
      lastCommand,
      mattersForMs,
    });
  }
}
