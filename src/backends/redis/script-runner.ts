/**
 * Runs lock scripts through the adapter with a per-command timeout, and turns what Redis says into
 * latchkey errors in one place. Before a locker's first lock command it checks the server once.
 */

import { markPending, markPermanent } from '../../core/failures.js';
import { debug, WARNING_CODES, warn } from '../../diagnostics.js';
import {
  LockBackendError,
  LockError,
  LockKeyConflictError,
  LockOutOfMemoryError,
  LockReplicationError,
  LockUnsupportedError,
} from '../../errors.js';
import { OperationTimeout, withTimeout } from '../../time.js';
import type { CommandDeadline, LuaScriptSource, RedisAdapter } from './adapter.js';
import type { LockKeys } from './keys.js';
import { type LuaScript, type ServerInfo, serverInfo } from './scripts/index.js';

const KEY_CONFLICT = /^(WRONGTYPE|ERR value is not an integer)/;
/** Redis refuses writes above `maxmemory` under `noeviction`. */
const OUT_OF_MEMORY = /^OOM /;
/**
 * Redis errors that waiting cannot cure: missing permissions or authentication, a command the
 * server (or a proxy) does not know, a script that fails at run time. BUSY, LOADING, MASTERDOWN,
 * READONLY, TRYAGAIN, OOM, timeouts and connection errors may pass and stay retriable.
 */
const PERMANENT =
  /^(NOPERM|NOAUTH|WRONGPASS|ERR unknown command|ERR user_script:|ERR Error running script|ERR Unknown Redis command called from script|ERR The user executing the script can't)/;
/** The server check's own INFO call denied by ACL: the check is skipped, with a warning. */
const INFO_DENIED = /^(NOPERM|ERR The user executing the script can't)/;

/** The oldest Redis the scripts run on: they use `SET … GET` (7.0; 6.2 lacks it with NX). */
const MIN_VERSION = [7, 0] as const;

export class ScriptRunner {
  #checked = false;
  #checking: Promise<void> | undefined;

  constructor(
    private readonly adapter: RedisAdapter,
    private readonly timeoutMs: number,
    /** The locker's `replicas` option: 0, or how many replicas must have each hold's write. */
    private readonly replication: { readonly replicas: number; readonly timeoutMs: number } = {
      replicas: 0,
      timeoutMs: 0,
    },
  ) {}

  /** The script as this adapter's server runs it: a Cluster's publishes to the lock's shard only. */
  #variant(script: LuaScriptSource): LuaScriptSource {
    return (this.adapter.cluster && script.sharded) || script;
  }

  /** The per-command timeout, for callers that budget several steps against it. */
  get commandTimeoutMs(): number {
    return this.timeoutMs;
  }

  /**
   * Runs `script`; rejects with LockBackendError after `timeoutMs` (default: the command timeout),
   * at which point the adapter stops anything of it that has not reached Redis yet. A command that
   * timed out may still run on the server later: see {@link pendingCommand}.
   */
  async run<Keys extends LockKeys, Args, Reply>(
    script: LuaScript<Keys, Args, Reply>,
    keys: Keys,
    args: Args,
    timeoutMs: number = this.timeoutMs,
  ): Promise<Reply> {
    if (!this.#checked) await this.checkServer();
    const [scriptKeys, scriptArgs] = [script.keys(keys, args), script.args(args)];
    const raw = await this.#send(script.name, timeoutMs, keys, (deadline) =>
      this.adapter.runScript(this.#variant(script), scriptKeys, scriptArgs, deadline),
    );
    return parseReply(script, raw);
  }

  /**
   * Runs `script` as `run` does. With the locker's `replicas` option, a reply that `wrote` says
   * took or extended a hold counts only once that many replicas acknowledged it (a WAIT sent right
   * behind the script); otherwise it rejects with LockReplicationError, and the caller undoes the
   * hold as after any failed command.
   */
  async runReplicated<Keys extends LockKeys, Args, Reply>(
    script: LuaScript<Keys, Args, Reply>,
    keys: Keys,
    args: Args,
    wrote: (reply: Reply) => boolean,
  ): Promise<Reply> {
    const { replicas, timeoutMs } = this.replication;
    const runAndWait = this.adapter.runScriptAndWait;
    if (replicas === 0) return this.run(script, keys, args);
    if (!runAndWait) throw new LockUnsupportedError('the adapter cannot wait for replicas');
    if (!this.#checked) await this.checkServer();
    const [scriptKeys, scriptArgs] = [script.keys(keys, args), script.args(args)];
    const [raw, acknowledged] = await this.#send(script.name, this.timeoutMs, keys, (deadline) =>
      runAndWait.call(
        this.adapter,
        this.#variant(script),
        scriptKeys,
        scriptArgs,
        deadline,
        replicas,
        timeoutMs,
      ),
    );
    const reply = parseReply(script, raw);
    if (wrote(reply) && acknowledged < replicas) {
      throw new LockReplicationError(replicas, acknowledged);
    }
    return reply;
  }

  /**
   * Checks the server once per runner: refuses a Cluster node and a Redis older than 7.0, warns
   * about an eviction policy that can evict lock data. A failure that may pass (timeout, closed
   * client) is not remembered: the next call checks again.
   */
  checkServer(): Promise<void> {
    if (this.#checked) return Promise.resolve();
    this.#checking ??= this.#check().then(
      () => {
        this.#checked = true;
      },
      (error: unknown) => {
        if (!(error instanceof LockUnsupportedError)) this.#checking = undefined;
        throw error;
      },
    );
    return this.#checking;
  }

  async #check(): Promise<void> {
    let info: ServerInfo;
    try {
      info = serverInfo.parse(
        await this.#send(serverInfo.name, this.timeoutMs, undefined, (deadline) =>
          this.adapter.runScript(serverInfo, [], [], deadline),
        ),
      );
    } catch (error) {
      if (error instanceof LockBackendError && INFO_DENIED.test(causeMessage(error))) {
        warn(
          WARNING_CODES.unchecked,
          'the server check could not run INFO (ACL); Cluster mode and the eviction policy were not checked',
        );
        return;
      }
      if (error instanceof LockError) throw error;
      throw new LockBackendError(`server check: ${(error as Error).message}`, { cause: error });
    }
    judgeServer(info, this.adapter.cluster === true);
  }

  /**
   * Runs what `start` sends with a deadline of `timeoutMs`, at which it rejects (the adapter then
   * stops what has not reached Redis yet), and turns Redis's errors into latchkey's.
   */
  async #send<T>(
    scriptName: string,
    timeoutMs: number,
    lockKeys: LockKeys | undefined,
    start: (deadline: CommandDeadline) => Promise<T>,
  ): Promise<T> {
    const deadline = new Deadline();
    const operation = start(deadline);
    try {
      return await withTimeout(operation, Math.max(1, timeoutMs), (timeout) =>
        deadline.expire(timeout),
      );
    } catch (error) {
      const lockError = toLockError(error, scriptName, lockKeys);
      if (error instanceof OperationTimeout) {
        markPending(
          lockError,
          operation.then(
            () => {},
            () => {},
          ),
        );
      }
      throw lockError;
    }
  }
}

/** The script's typed reply, or LockBackendError for one it does not recognise. */
function parseReply<Reply>(script: LuaScript<LockKeys, never, Reply>, raw: unknown): Reply {
  try {
    return script.parse(raw);
  } catch (error) {
    throw new LockBackendError(`${script.name}: ${(error as Error).message}`, { cause: error });
  }
}

/** Throws LockUnsupportedError for a server latchkey cannot lock on safely; warns about eviction. */
export function judgeServer(info: ServerInfo, clusterClient: boolean): void {
  if (info.clusterEnabled && !clusterClient) {
    throw new LockUnsupportedError(
      'the server runs in Redis Cluster mode (cluster_enabled:1), but the client is not a cluster ' +
        'client: a lock whose slot is on another node would fail with MOVED, and wake-ups would ' +
        "not be sharded. Connect with the client's cluster mode (ioredis Cluster, node-redis " +
        'createCluster).',
    );
  }
  const version = /^(\d+)\.(\d+)/.exec(info.version);
  if (version) {
    const [major, minor] = [Number(version[1]), Number(version[2])];
    if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
      throw new LockUnsupportedError(
        `Redis ${info.version} is older than ${MIN_VERSION.join('.')}, which latchkey's scripts need (SET … NX GET)`,
      );
    }
  }
  const policy = info.maxmemoryPolicy;
  const limit = info.maxmemory > 0 ? `maxmemory ${info.maxmemory}` : 'no maxmemory set yet';
  if (policy.startsWith('allkeys-')) {
    warn(
      WARNING_CODES.evictableFence,
      `maxmemory-policy is ${policy} (${limit}): Redis may evict lock keys, after which a second ` +
        'holder can get a lock before the first notices the loss at its next refresh (an evicted ' +
        'last fencing token does not matter: tokens come from the server clock, so they stay in order). Use ' +
        'noeviction for the locks.',
    );
  } else if (policy.startsWith('volatile-')) {
    warn(
      WARNING_CODES.evictableLock,
      `maxmemory-policy is ${policy} (${limit}): Redis may evict lock keys (they have an expiry), ` +
        'so a second holder can get a lock before the first notices the loss at its next refresh. ' +
        'Use noeviction for the locks.',
    );
  }
  if (!info.aofEnabled) {
    warn(
      WARNING_CODES.notPersistent,
      'appendonly is off: a restart of Redis loses the lock keys written since its last snapshot, ' +
        'so a second holder can get a lock while the first still holds it (fencing tokens stay in ' +
        'order). Use appendonly yes for the locks.',
    );
  }
  debug('server check passed: redis %s, maxmemory-policy %s', info.version, policy);
}

function causeMessage(error: Error): string {
  const cause = error.cause;
  return cause instanceof Error ? cause.message : String(cause ?? error.message);
}

function toLockError(error: unknown, scriptName: string, keys: LockKeys | undefined): Error {
  if (error instanceof LockError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (keys && KEY_CONFLICT.test(message)) {
    return new LockKeyConflictError(keys.lock, message.split('\n')[0] ?? message, { cause: error });
  }
  if (OUT_OF_MEMORY.test(message)) {
    return new LockOutOfMemoryError(`${scriptName} failed: ${message}`, { cause: error });
  }
  const backendError = new LockBackendError(`${scriptName} failed: ${message}`, { cause: error });
  if (PERMANENT.test(message)) markPermanent(backendError);
  return backendError;
}

/** A command's deadline whose AbortSignal is made only if an adapter asks for it (see adapter.ts). */
class Deadline implements CommandDeadline {
  expired = false;
  #reason: unknown;
  #controller: AbortController | undefined;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.expired) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  expire(reason: unknown): void {
    this.expired = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
