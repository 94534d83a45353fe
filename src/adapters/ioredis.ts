/**
 * latchkey on ioredis (v5 and later): `import { createLocker } from 'latchkey/ioredis'`.
 * Importing this module never loads node-redis.
 */
import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { LuaScriptSource, RedisAdapter, RedisSubscriber } from '../adapter.js';
import { debug } from '../diagnostics.js';
import { Locker } from '../locker.js';
import type { LockerOptions } from '../options.js';
import { closeWithin, isNoScriptError, SUBSCRIBER_CLOSE_TIMEOUT_MS } from './shared.js';

/** The part of an ioredis client latchkey uses. */
export type IORedisClient = Pick<Redis, 'evalsha' | 'eval' | 'duplicate'>;

export function fromIORedis(client: IORedisClient): RedisAdapter {
  const batchWrites = writeBatcher(client);
  return {
    async runScript(script: LuaScriptSource, keys: readonly string[], args: readonly string[]) {
      batchWrites();
      try {
        return await client.evalsha(script.sha1, script.numberOfKeys, ...keys, ...args);
      } catch (error) {
        if (!isNoScriptError(error)) throw error;
        return await client.eval(script.lua, script.numberOfKeys, ...keys, ...args);
      }
    },

    async createSubscriber(): Promise<RedisSubscriber> {
      // A duplicate keeps the caller's connection settings, except that SUBSCRIBE may wait for the
      // connection (bounded by our own timeout): with the caller's `enableOfflineQueue: false` it
      // would fail before the new connection is up, and waiters would lose their push wake-ups.
      const connection = client.duplicate({ enableOfflineQueue: true });
      connection.on('error', (error: unknown) => debug('ioredis subscriber error: %o', error));
      const listeners = new Map<string, (message: string) => void>();
      connection.on('message', (channel: string, message: string) =>
        listeners.get(channel)?.(message),
      );
      return {
        async subscribe(channel, onMessage) {
          listeners.set(channel, onMessage);
          await connection.subscribe(channel);
        },
        onReconnect(listener) {
          // ioredis re-subscribes by itself (autoResubscribe) before it emits 'ready' again.
          let connectedOnce = connection.status === 'ready';
          connection.on('ready', () => {
            if (connectedOnce) listener();
            connectedOnce = true;
          });
        },
        close: () =>
          closeWithin(
            SUBSCRIBER_CLOSE_TIMEOUT_MS,
            () => connection.quit(),
            () => connection.disconnect(),
          ),
      };
    },
  };
}

/**
 * Lets the commands latchkey sends in one turn of the event loop leave in one write. ioredis writes
 * each command with its own system call; with many locks in flight (one reply batch resolves many
 * awaits, each sending its next command) that call is most of a lock's client CPU. The socket is
 * corked on the first command and uncorked in a microtask queued behind it: after the promise
 * callbacks already waiting (other locks' next commands), but before the continuation of the code
 * that sent the command, so a caller that then blocks the event loop does not hold our command
 * back (a just-granted lock's extension must leave at once). node-redis batches by itself. Only a
 * ready standalone connection is corked: a Cluster client, or one still connecting (commands go to
 * ioredis's offline queue), is left as it is.
 */
function writeBatcher(client: IORedisClient): () => void {
  const connection = client as { readonly status?: string; readonly stream?: Writable };
  let corked: Writable | undefined;
  const uncork = () => {
    corked?.uncork();
    corked = undefined;
  };
  return () => {
    if (corked || connection.status !== 'ready') return;
    const stream = connection.stream;
    if (!stream?.writable || typeof stream.cork !== 'function') return;
    corked = stream;
    stream.cork();
    queueMicrotask(uncork);
  };
}

/**
 * Makes a locker on an ioredis client you created. The client stays yours: `locker.close()` does
 * not close it. Works with a `keyPrefix` on the client (applied on top of latchkey's `prefix`).
 *
 * @example
 * const locker = createLocker(new Redis(), { ttlMs: 5_000 });
 * await locker.withLock('nightly-report', async (signal) => buildReport({ signal }));
 */
export function createLocker(client: IORedisClient, options?: LockerOptions): Locker {
  return new Locker(fromIORedis(client), options);
}
