/**
 * What every kind's store on one Redis does the same way: extend, release and the background
 * give-back each run one script of the kind with the same arguments. A kind adds its attempt.
 */
import type {
  AttemptReply,
  AttemptRequest,
  ExtendReply,
  LockStore,
  ReleaseReply,
} from '../../core/backend.js';
import type { RedisSession } from './backend.js';
import type { LockKeys } from './keys.js';
import type { LuaScript, ReleaseArgs } from './scripts/index.js';

export interface HoldScripts<Keys extends LockKeys> {
  readonly extend: LuaScript<Keys, { token: string; ttlMs: number }, ExtendReply>;
  readonly release: LuaScript<Keys, ReleaseArgs, ReleaseReply>;
}

export abstract class ScriptStore<Keys extends LockKeys> implements LockStore {
  abstract readonly kind: LockStore['kind'];

  constructor(
    protected readonly session: RedisSession,
    readonly name: string,
    readonly keys: Keys,
    private readonly scripts: HoldScripts<Keys>,
  ) {}

  get waitKey(): string {
    return this.keys.lock;
  }

  abstract attempt(request: AttemptRequest): Promise<AttemptReply>;

  extend(token: string, ttlMs: number): Promise<ExtendReply> {
    return this.session.runner.runReplicated(
      this.scripts.extend,
      this.keys,
      { token, ttlMs },
      (extended) => extended.kind === 'extended',
    );
  }

  release(token: string, timeoutMs: number): Promise<ReleaseReply> {
    // The tombstone lasts as long as we wait for the reply: a client that resends the release
    // after a reconnect within that time gets "released" again, not what the first run left.
    return this.session.runner.run(
      this.scripts.release,
      this.keys,
      { token, withdraw: false, tombstoneMs: timeoutMs },
      timeoutMs,
    );
  }

  abandon(token: string, lastCommand: Promise<void> | undefined, mattersForMs: number): void {
    this.session.cleanUps.add({
      what: this.keys.lock,
      token,
      withdraw: () =>
        this.session.runner.run(this.scripts.release, this.keys, { token, withdraw: true }),
      lastCommand,
      mattersForMs,
    });
  }
}
