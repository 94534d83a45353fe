/**
 * The election on one Redis: a mutex under the election's keys (campaigning is acquiring it, so
 * candidates wait in its FIFO line with push wake-ups), plus the leader's value and a changes
 * channel for observers (see lua/election-*.lua).
 */
import type { ElectionStore, LeaderSnapshot, ReleaseReply } from '../../core/backend.js';
import type { RedisSession } from './backend.js';
import type { ElectionKeys } from './keys.js';
import { MutexStore } from './mutex-store.js';
import {
  electionExtend,
  electionLeader,
  electionProclaim,
  electionResign,
} from './scripts/election.js';
import { mutexRelease } from './scripts/index.js';

export class RedisElectionStore extends MutexStore<ElectionKeys> implements ElectionStore {
  override readonly kind = 'election';

  constructor(session: RedisSession, name: string, keys: ElectionKeys) {
    super(session, name, keys, { extend: electionExtend, release: mutexRelease });
  }

  proclaim(token: string, fencingToken: number, value: string): Promise<'proclaimed' | 'missing'> {
    return this.session.runner.run(electionProclaim, this.keys, {
      token,
      fencingToken,
      value,
      channel: this.keys.changes,
    });
  }

  /** Takes the value down first: the release may hand the lock to the next candidate at once. */
  override async release(token: string, timeoutMs: number): Promise<ReleaseReply> {
    const started = performance.now();
    await this.session.runner.run(
      electionResign,
      this.keys,
      { token, channel: this.keys.changes },
      timeoutMs,
    );
    return super.release(token, Math.max(1, timeoutMs - (performance.now() - started)));
  }
}

export function readLeader(
  session: RedisSession,
  keys: ElectionKeys,
): Promise<LeaderSnapshot | undefined> {
  return session.runner.run(electionLeader, keys, undefined as never);
}
