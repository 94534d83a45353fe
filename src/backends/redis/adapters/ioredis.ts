/**
 * latchkey on ioredis (v5 and later): `import { createLocker } from 'latchkey/ioredis'`.
 * Importing this module never loads node-redis.
 */
import type { Writable } from 'node:stream';
import type { Cluster, Redis } from 'ioredis';
import { debug } from '../../../diagnostics.js';
import { LockClientClosedError } from '../../../errors.js';
import { Locker } from '../../../locker.js';
import type { LockerOptions } from '../../../options.js';
import type {
  CommandDeadline,
  LuaScriptSource,
  RedisAdapter,
  RedisKeyWatcher,
  RedisSubscriber,
} from '../adapter.js';
import { clusterAdapter } from './cluster.js';
import type { ClusterLinks } from './sharded-subscriber.js';
import {
  checkClientMethods,
  closeWithin,
  isNoScriptError,
  type ReadyEvents,
  readyWaiter,
  runFollowedByWait,
  ScriptLoads,
  SUBSCRIBER_CLOSE_TIMEOUT_MS,
  throwIfExpired,
} from './shared.js';
import { type AddressMap, mapAddress } from './slot-map.js';

/** The part of an ioredis client (a `Redis`, or a `Cluster`) latchkey uses. */
export type IORedisClient = IORedisStandalone | IORedisCluster;

/** The part of an ioredis `Redis` latchkey uses. */
export type IORedisStandalone = Pick<Redis, 'evalsha' | 'eval' | 'duplicate'>;

/** The part of an ioredis `Cluster` latchkey uses. */
export type IORedisCluster = Pick<Cluster, 'evalsha' | 'eval' | 'duplicate' | 'nodes' | 'call'>;

function isCluster(client: IORedisClient): client is IORedisCluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/**
 * The {@link RedisAdapter} over an ioredis `Redis` or `Cluster`, for `new Locker(adapter)` or an
 * adapter test; {@link createLocker} is the shorter way to a locker. The client stays yours:
 * latchkey closes only the connections it opened itself.
 */
export function fromIORedis(client: IORedisClient): RedisAdapter {
  checkClientMethods(client, 'an ioredis client', ['evalsha', 'eval', 'duplicate']);
  if (isCluster(client)) return fromIORedisCluster(client);
  return fromIORedisStandalone(client);
}

/**
 * A Redis Cluster through ioredis's `Cluster`: scripts go to the master of their keys' slot (all of
 * a lock's keys share one), wake-ups over sharded pub/sub. The key watcher
 * watches each key on its slot's master (ClusterKeyWatcher). No WAIT (the `replicas` option): it
 * must follow the script on one connection, which the cluster client does not offer.
 */
function fromIORedisCluster(cluster: IORedisCluster): RedisAdapter {
  checkClientMethods(cluster, 'an ioredis Cluster', ['nodes', 'call']);
  const run = scriptSender(cluster);
  return clusterAdapter((script, keys, args, deadline) => run(script, keys, args, deadline), {
    ...clusterLinks(cluster),
    watchNode: (host, port, onChanged, onLost) =>
      watchKeys(nodeConnections(cluster, host, port), onChanged, onLost),
  });
}

/**
 * Makes connections to one cluster node (`duplicate`, as watchKeys wants them): the settings of
 * the cluster's node connections (password, TLS, …), the cluster's key prefix, the address its
 * `natMap` gives the node, and no reconnection (a lost node is looked up again in the slot map).
 */
function nodeConnections(cluster: IORedisCluster, host: string, port: number) {
  const template = cluster.nodes('master')[0] ?? cluster.nodes()[0];
  if (!template) throw new Error('the ioredis Cluster knows no node yet');
  const { keyPrefix, natMap } =
    (cluster as { options?: { keyPrefix?: string; natMap?: AddressMap } }).options ?? {};
  const address = mapAddress(natMap, host, port);
  return {
    options: { keyPrefix },
    duplicate: ((options: object) =>
      template.duplicate({
        keyPrefix,
        readOnly: false,
        retryStrategy: () => null,
        ...options,
        host: address.host,
        port: address.port,
      })) as Redis['duplicate'],
  };
}

/** How the cluster subscriber reaches the nodes of an ioredis Cluster. */
function clusterLinks(cluster: IORedisCluster): ClusterLinks {
  return {
    clusterSlots: () => cluster.call('CLUSTER', 'SLOTS'),
    async connect(host, port, events) {
      // No key prefix on channels.
      const connection = nodeConnections(cluster, host, port).duplicate({
        lazyConnect: true,
        enableOfflineQueue: true,
        autoResubscribe: false,
        keyPrefix: undefined,
      });
      connection.on('error', (error: unknown) => debug('ioredis node subscriber error: %o', error));
      connection.on('smessage', (channel: string, message: string) =>
        events.message(channel, message),
      );
      // ioredis 6 emits 'moved' for the SUNSUBSCRIBE Redis sends when a channel's slot left.
      connection.on('moved', () => events.moved());
      connection.on('end', () => events.lost());
      try {
        await connection.connect();
      } catch (error) {
        connection.disconnect();
        throw error;
      }
      return {
        ssubscribe: async (channel) => {
          await connection.ssubscribe(channel);
        },
        sunsubscribe: async (channel) => {
          await connection.sunsubscribe(channel);
        },
        close: () => closeConnection(connection),
      };
    },
  };
}

function fromIORedisStandalone(client: IORedisStandalone): RedisAdapter {
  const run = scriptSender(client);
  const replicated = client as Partial<Pick<Redis, 'wait'>>;
  const wait = typeof replicated.wait === 'function' ? replicated.wait.bind(client) : undefined;
  return {
    runScript: (script, keys, args, deadline) => run(script, keys, args, deadline),

    ...(wait && {
      runScriptAndWait: (script, keys, args, deadline, replicas, timeoutMs) =>
        runFollowedByWait(
          (afterSend) => run(script, keys, args, deadline, () => afterSend(client)),
          () => wait(replicas, timeoutMs),
        ),
    }),

    async createSubscriber(): Promise<RedisSubscriber> {
      // A duplicate keeps the caller's connection settings, except that SUBSCRIBE may wait for the
      // connection (bounded by our own timeout): with the caller's `enableOfflineQueue: false` it
      // would fail before the new connection is up, and waiters would lose their push wake-ups.
      // Our own re-subscription instead of ioredis's autoResubscribe: ioredis sends that SUBSCRIBE
      // without a rejection handler, so a connection dropped again right after 'ready' (CLIENT
      // KILL, a TLS link cut) left an unhandled 'Connection is closed.' in the caller's process.
      const connection = client.duplicate({ enableOfflineQueue: true, autoResubscribe: false });
      connection.on('error', (error: unknown) => debug('ioredis subscriber error: %o', error));
      const listeners = new Map<string, (message: string) => void>();
      const reconnectListeners: (() => void)[] = [];
      connection.on('message', (channel: string, message: string) =>
        listeners.get(channel)?.(message),
      );
      let connectedOnce = false;
      connection.on('ready', () => {
        if (!connectedOnce) {
          connectedOnce = true;
          return;
        }
        const channels = [...listeners.keys()];
        (channels.length > 0 ? connection.subscribe(...channels) : Promise.resolve()).then(
          () => {
            for (const listener of reconnectListeners) listener();
          },
          // Dropped again before the reply: the next 'ready' subscribes again.
          (error: unknown) => debug('ioredis subscriber: subscribing again failed: %o', error),
        );
      });
      return {
        async subscribe(channel, onMessage) {
          listeners.set(channel, onMessage);
          await connection.subscribe(channel);
        },
        async unsubscribe(channel) {
          listeners.delete(channel);
          await connection.unsubscribe(channel);
        },
        onReconnect(listener) {
          reconnectListeners.push(listener);
        },
        close: () => closeConnection(connection),
      };
    },
    createKeyWatcher: (onChanged) => watchKeys(client, onChanged),
  };
}

/**
 * Sends a script (EVALSHA, or EVAL after NOSCRIPT) on a Redis or a Cluster; `afterSend` runs right
 * after each send, in the same turn, so that a command it sends follows the script on the same
 * connection.
 */
function scriptSender(client: IORedisClient) {
  const batchWrites = writeBatcher(client);
  const beforeSend = offlineGuard(client);
  const loads = new ScriptLoads();
  return async (
    script: LuaScriptSource,
    keys: readonly string[],
    args: readonly string[],
    deadline: CommandDeadline | undefined,
    afterSend?: () => void,
  ): Promise<unknown> => {
    const waiting = beforeSend(deadline);
    if (waiting) await waiting;
    batchWrites();
    try {
      const sent = client.evalsha(script.sha1, script.numberOfKeys, ...keys, ...args);
      afterSend?.();
      return await sent;
    } catch (error) {
      if (!isNoScriptError(error)) throw closedOr(client, error);
      // The caller gave up on this command (and may have cleaned up after it): a fresh EVAL now
      // could take a lock nobody waits for.
      throwIfExpired(deadline);
      const send = async <T>(command: () => Promise<T>): Promise<T> => {
        const waitingAgain = beforeSend(deadline);
        if (waitingAgain) await waitingAgain;
        const sent = command();
        afterSend?.();
        return sent;
      };
      try {
        return await loads.fallback(
          script.sha1,
          deadline,
          () => send(() => client.eval(script.lua, script.numberOfKeys, ...keys, ...args)),
          () => send(() => client.evalsha(script.sha1, script.numberOfKeys, ...keys, ...args)),
        );
      } catch (fallbackError) {
        throw closedOr(client, fallbackError);
      }
    }
  };
}

/** Closes a connection latchkey opened (`duplicate()`): QUIT, or a disconnect if that hangs. */
function closeConnection(connection: Redis): Promise<void> {
  return closeWithin(
    SUBSCRIBER_CLOSE_TIMEOUT_MS,
    () => connection.quit(),
    () => connection.disconnect(),
  );
}

const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Client-side caching on ioredis: a reader with CLIENT TRACKING on, whose invalidations Redis
 * redirects to a listener subscribed to __redis__:invalidate. Both speak RESP2: ioredis drops
 * RESP3 `invalidate` pushes, while RESP2 delivers them as that channel's messages (the keys, or
 * nil after a flush). After a reconnect of either, tracking is set up again from scratch.
 */
async function watchKeys(
  client: Pick<Redis, 'duplicate'>,
  onChanged: (keys: readonly string[] | null) => void,
  onLost?: () => void,
): Promise<RedisKeyWatcher> {
  const prefix = (client as { options?: { keyPrefix?: string } }).options?.keyPrefix ?? '';
  const options = { enableOfflineQueue: true, protocol: 2, autoResubscribe: false } as const;
  const listener = client.duplicate(options);
  const reader = client.duplicate(options);
  for (const connection of [listener, reader]) {
    connection.on('error', (error: unknown) => debug('ioredis key watcher error: %o', error));
    // Only connections made without reconnection end by themselves (a cluster node's).
    if (onLost) connection.on('end', onLost);
  }
  listener.on('messageBuffer', (channel: Buffer, message: unknown) => {
    if (String(channel) !== INVALIDATE_CHANNEL) return;
    if (!Array.isArray(message)) return onChanged(null);
    const keys = message.map(String).filter((key) => key.startsWith(prefix));
    onChanged(keys.map((key) => key.slice(prefix.length)));
  });
  let listenerId = '';
  const listen = async () => {
    listenerId = String(await listener.call('CLIENT', 'ID'));
    await listener.subscribe(INVALIDATE_CHANNEL);
  };
  const track = async () => {
    await reader.call('CLIENT', 'TRACKING', 'OFF');
    await reader.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', listenerId);
  };
  const close = () => Promise.all([listener, reader].map(closeConnection)).then(() => {});
  try {
    await listen();
    await track();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    read: (key) => reader.get(key),
    onReconnect(onBack) {
      // A listener back from a reconnect has a new id and no subscription (ioredis does not
      // resubscribe it), and a reader back has no tracking: set up what is missing, then have
      // everything read again.
      const whenBack = (connection: typeof listener, setUp: () => Promise<void>) => {
        let connectedOnce = connection.status === 'ready';
        connection.on('ready', () => {
          if (!connectedOnce) {
            connectedOnce = true;
            return;
          }
          setUp().then(onBack, (error: unknown) =>
            debug('ioredis key watcher set-up failed: %o', error),
          );
        });
      };
      whenBack(listener, async () => {
        await listen();
        await track();
      });
      whenBack(reader, track);
    },
    close,
  };
}

/** What latchkey reads of an ioredis client's connection state, when the client has it. */
interface ConnectionState {
  readonly status?: string;
  readonly options?: { readonly enableOfflineQueue?: boolean };
  connect?(): Promise<unknown>;
}

const closedClient = (cause?: unknown) =>
  new LockClientClosedError(
    'the ioredis client was closed (quit or disconnect); it will not reconnect by itself',
    cause === undefined ? undefined : { cause },
  );

/** A command that failed because the client ended is reported as LockClientClosedError. */
function closedOr(client: IORedisClient, error: unknown): unknown {
  return (client as ConnectionState).status === 'end' ? closedClient(error) : error;
}

/**
 * Keeps lock commands out of ioredis's offline queue: a command queued while the connection is
 * down would be sent whenever it comes back, long after latchkey gave up on it and cleaned up.
 * Returns undefined when the command may go now (the hot path: a ready connection), or a promise
 * that resolves once the connection is ready, rejecting when `deadline` expires first. A client that
 * ended is refused at once; so is one whose caller disabled the offline queue, by ioredis itself.
 */
function offlineGuard(
  client: IORedisClient,
): (deadline?: CommandDeadline) => Promise<void> | undefined {
  const state = client as ConnectionState;
  const events = client as unknown as Partial<ReadyEvents>;
  const waitForReady =
    typeof events.once === 'function' && typeof events.removeListener === 'function'
      ? readyWaiter(events as ReadyEvents, 'end', () => closedClient())
      : undefined;
  return (deadline) => {
    const status = state.status;
    if (status === 'ready' || status === undefined) return undefined;
    if (status === 'end') throw closedClient();
    if (state.options?.enableOfflineQueue === false || !waitForReady) return undefined;
    // lazyConnect: ioredis would connect on the first command; do it here, since we hold it back.
    if (status === 'wait') state.connect?.().catch(() => {});
    return waitForReady(deadline?.signal);
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
