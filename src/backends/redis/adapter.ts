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

export interface RedisAdapter {
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
   * Opens a dedicated connection for pub/sub. latchkey opens at most one per locker and closes it
   * in `close()`. The caller's own connection is never put in subscriber mode.
   */
  createSubscriber(): Promise<RedisSubscriber>;
}

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
