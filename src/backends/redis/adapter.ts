/**
 * The port between latchkey and a Redis client: only what the library needs. Adapters for ioredis
 * and node-redis live in ./adapters/; a third-party adapter implements this interface and can
 * prove itself with the conformance suite in `latchkey/testing`.
 */

/** A Lua script as the adapter needs it: the source, its SHA1, and its number of keys. */
export interface LuaScriptSource {
  readonly name: string;
  readonly lua: string;
  readonly sha1: string;
  readonly numberOfKeys: number;
  /**
   * The same script with sharded pub/sub (SPUBLISH, PUBSUB SHARDNUMSUB), for scripts that publish:
   * what an adapter with `cluster: true` is given instead.
   */
  readonly sharded?: LuaScriptSource;
}

/**
 * The end of one command's time, as an adapter sees it. Read it only off the hot path (before a
 * NOSCRIPT fallback, while the connection is not ready): `signal` is made on first use, because an
 * AbortSignal per command would cost more than the rest of a lock's client work.
 */
export interface CommandDeadline {
  /** True once latchkey gave up on the command: nothing more of it may be sent. */
  readonly expired: boolean;
  /** Aborts (with latchkey's timeout error as its reason) when the command's time is up. */
  readonly signal: AbortSignal;
}

/**
 * What latchkey needs of a Redis client: run its scripts, open a subscriber connection and,
 * optionally, a key-watching one. `fromIORedis` (`latchkey/ioredis`) and `fromNodeRedis`
 * (`latchkey/node-redis`) make one; `registerConformanceSuite` (`latchkey/testing`) checks another.
 */
export interface RedisAdapter {
  /**
   * True when the client talks to a Redis Cluster. Then latchkey gives `runScript` each script's
   * `sharded` variant, every lock gets a wake channel of its own that carries the lock's hash tag
   * (so it lives in the lock's slot), and the subscriber must subscribe with SSUBSCRIBE on the
   * master that owns each channel's slot, following the channel when the slot moves.
   */
  readonly cluster?: boolean;
  /**
   * Runs `script` with EVALSHA, and once more with EVAL if Redis answers NOSCRIPT (after a restart
   * or SCRIPT FLUSH). Resolves with the script's reply as the client decodes it (integers as
   * numbers, bulk strings as strings, nil as null); rejects with the client's error otherwise, its
   * message starting with Redis's error text (`WRONGTYPE …`).
   *
   * `deadline` expires when latchkey stops waiting for the reply and undoes whatever the command
   * may have done. From then on nothing of this call may reach Redis: no NOSCRIPT fallback, and no
   * command still waiting in the client's offline queue (drop it, or do not queue it while the
   * connection is down). A command already written may still run. Reject with
   * `LockClientClosedError` when the client is closed and will not reconnect by itself.
   */
  runScript(
    script: LuaScriptSource,
    keys: readonly string[],
    args: readonly string[],
    deadline?: CommandDeadline,
  ): Promise<unknown>;
  /**
   * Optional; needed for the locker's `replicas` option. Runs `script` as `runScript` does and
   * sends `WAIT replicas timeoutMs` right behind it on the same connection (and again behind a
   * NOSCRIPT fallback's EVAL), so that the WAIT counts the replicas that have the script's writes.
   * Resolves with the script's reply and the number of replicas the last WAIT reported.
   */
  runScriptAndWait?(
    script: LuaScriptSource,
    keys: readonly string[],
    args: readonly string[],
    deadline: CommandDeadline | undefined,
    replicas: number,
    timeoutMs: number,
  ): Promise<readonly [reply: unknown, acknowledged: number]>;
  /**
   * Opens a dedicated connection for pub/sub. latchkey opens at most one per locker and closes it
   * in `close()`. The caller's own connection is never put in subscriber mode.
   */
  createSubscriber(): Promise<RedisSubscriber>;
  /**
   * Optional: opens a connection (or two) with Redis client-side caching on (`CLIENT TRACKING`),
   * on which latchkey reads the lock keys of held locks; Redis then reports each change of a key
   * it read (a write, a delete, an expiry, an eviction; `null`: all keys, a flush) to
   * `onChanged`, with the keys as latchkey names them (without a client-level key prefix). So a
   * holder learns at once that its lock was deleted or taken, not at its next refresh. Without it,
   * or if it rejects (a server or ACL that refuses CLIENT TRACKING), loss shows at the next refresh.
   * latchkey opens at most one per locker, when a held lock's `signal` is first read, and closes
   * it in `close()`.
   */
  createKeyWatcher?(onChanged: (keys: readonly string[] | null) => void): Promise<RedisKeyWatcher>;
}

/** The connection {@link RedisAdapter.createKeyWatcher} opens: reads keys and reports their changes. */
export interface RedisKeyWatcher {
  /** Reads `key` (GET) on the watching connection, so that its next change is reported. */
  read(key: string): Promise<string | null>;
  /**
   * Calls `listener` each time the watching connection is back after a reconnect, tracking set
   * up again: changes made meanwhile were not reported, and nothing read before is tracked.
   */
  onReconnect(listener: () => void): void;
  /** Closes the connection(s); afterwards nothing of it keeps the process alive. */
  close(): Promise<void>;
}

/**
 * The pub/sub connection {@link RedisAdapter.createSubscriber} opens, on which waiters hear that a
 * lock was released or handed to them.
 */
export interface RedisSubscriber {
  /** Subscribes to `channel`; `onMessage` receives each message's text. Resolves once subscribed. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  /**
   * Optional: stops delivering `channel`'s messages and unsubscribes from it (an election observer
   * that stopped). Without it the subscription stays until `close()`, its messages dropped.
   */
  unsubscribe?(channel: string): Promise<void>;
  /**
   * Optional: calls `listener` each time the connection is ready again after a reconnect (messages
   * published meanwhile were lost), so latchkey can have its waiters look again at once. Without
   * it, waiters that lost their place while the connection was down get back in line only when
   * their process's polling waiter next looks (at the holder's expiry).
   */
  onReconnect?(listener: () => void): void;
  /** Unsubscribes and closes the connection; afterwards nothing of it keeps the process alive. */
  close(): Promise<void>;
}
