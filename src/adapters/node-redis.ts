/**
 * latchkey on node-redis (the `redis` package, v4 and later):
 * `import { createLocker } from 'latchkey/node-redis'`. Importing this module never loads ioredis.
 */
import type { LuaScriptSource, RedisAdapter, RedisSubscriber } from '../adapter.js';
import { debug } from '../diagnostics.js';
import { Locker } from '../locker.js';
import type { LockerOptions } from '../options.js';
import { closeWithin, isNoScriptError, SUBSCRIBER_CLOSE_TIMEOUT_MS } from './shared.js';

interface ScriptOptions {
  keys: string[];
  arguments: string[];
}

/** The connection latchkey opens for pub/sub: `client.duplicate()`. */
export interface NodeRedisSubscriberConnection {
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** v5+: `close()`; v4: `quit()`. */
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  /** v5+: `destroy()`; v4: `disconnect()`. */
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

/**
 * The part of a node-redis client latchkey uses, written structurally so v4, v5 and v6 clients
 * (with any modules, scripts or RESP version) all fit.
 */
export interface NodeRedisClient {
  evalSha(sha1: string, options: ScriptOptions): Promise<unknown>;
  eval(script: string, options: ScriptOptions): Promise<unknown>;
  duplicate(): NodeRedisSubscriberConnection;
}

export function fromNodeRedis(client: NodeRedisClient): RedisAdapter {
  return {
    async runScript(script: LuaScriptSource, keys: readonly string[], args: readonly string[]) {
      const options = { keys: [...keys], arguments: [...args] };
      try {
        return await client.evalSha(script.sha1, options);
      } catch (error) {
        if (!isNoScriptError(error)) throw error;
        return await client.eval(script.lua, options);
      }
    },

    async createSubscriber(): Promise<RedisSubscriber> {
      const connection = client.duplicate();
      connection.on('error', (error) => debug('node-redis subscriber error: %o', error));
      await connection.connect();
      return {
        async subscribe(channel, onMessage) {
          await connection.subscribe(channel, (message) => onMessage(String(message)));
        },
        onReconnect(listener) {
          // node-redis re-subscribes on reconnect; 'ready' follows every (re)connection, and the
          // first one has already passed because connect() resolved above.
          connection.on('ready', listener);
        },
        close: () =>
          closeWithin(
            SUBSCRIBER_CLOSE_TIMEOUT_MS,
            async () => {
              if (connection.close) await connection.close();
              else await connection.quit?.();
            },
            () => {
              if (connection.destroy) connection.destroy();
              else void connection.disconnect?.().catch(() => {});
            },
          ),
      };
    },
  };
}

/**
 * Makes a locker on a connected node-redis client you created. The client stays yours:
 * `locker.close()` does not close it.
 *
 * @example
 * const client = await createClient().connect();
 * const locker = createLocker(client, { ttlMs: 5_000 });
 */
export function createLocker(client: NodeRedisClient, options?: LockerOptions): Locker {
  return new Locker(fromNodeRedis(client), options);
}
