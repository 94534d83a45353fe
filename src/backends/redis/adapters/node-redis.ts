/**
 * latchkey on node-redis (the `redis` package, v4 and later):
 * `import { createLocker } from 'latchkey/node-redis'`. Importing this module never loads ioredis.
 */

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

/** The options of node-redis's `evalSha` and `eval`, as latchkey passes them. */
export interface NodeRedisScriptOptions {
  keys: string[];
  arguments: string[];
}

/** `WAIT` (node-redis v4 and later), for the locker's `replicas` option. */
interface Replicated {
  wait(replicas: number, timeoutMs: number): Promise<number>;
}

/** The connection latchkey opens for pub/sub: `client.duplicate()`. */
export interface NodeRedisSubscriberConnection {
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** A connection error: logged through the debug text, the client reconnects by itself. */
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** The connection is (again) ready: after a reconnect, waiters look again at once. */
  on(event: 'ready', listener: () => void): unknown;
  /** Subscribes to `channel`, `listener` getting each message's text. */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Unsubscribes from `channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Closes gracefully (v5 and later; v4 has `quit()`). */
  close?(): Promise<unknown>;
  /** Closes gracefully (v4; v5 and later have `close()`). */
  quit?(): Promise<unknown>;
  /** Closes at once (v5 and later; v4 has `disconnect()`). */
  destroy?(): void;
  /** Closes at once (v4; v5 and later have `destroy()`). */
  disconnect?(): Promise<unknown>;
}

/**
 * The part of a node-redis client latchkey uses, written structurally so v4, v5 and v6 clients
 * (with any modules, scripts or RESP version) all fit.
 */
export interface NodeRedisClient {
  /** EVALSHA: runs a script Redis has cached. */
  evalSha(sha1: string, options: NodeRedisScriptOptions): Promise<unknown>;
  /** EVAL: runs (and caches) a script, after EVALSHA answered NOSCRIPT. */
  eval(script: string, options: NodeRedisScriptOptions): Promise<unknown>;
  /** A new connection with the client's options, for pub/sub; latchkey connects and closes it. */
  duplicate(): NodeRedisSubscriberConnection;
}

/**
 * The connection latchkey opens to watch lock keys: `client.duplicate({ RESP: 3, emitInvalidate:
 * true })` (node-redis v5 and later), which emits each key Redis invalidates.
 */
interface NodeRedisWatcherConnection {
  connect(): Promise<unknown>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'invalidate', listener: (key: unknown) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  sendCommand(args: string[]): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

/** What latchkey reads of a node-redis client's connection state, when the client has it. */
interface ConnectionState {
  /** False before `connect()` and after `close()`/`destroy()`: commands fail, no reconnect. */
  readonly isOpen?: boolean;
  /** False while (re)connecting: commands wait in the client's offline queue. */
  readonly isReady?: boolean;
  /** v5+: a view of the client whose commands are dropped from its queue when `signal` aborts. */
  withAbortSignal?(signal: AbortSignal): NodeRedisClient;
  /** v5+: a view of the client with some command options replaced. */
  withCommandOptions?(options: { readonly timeout?: number }): NodeRedisClient;
}

const closedClient = (cause?: unknown) =>
  new LockClientClosedError(
    'the node-redis client is not connected (never connected, or closed); connect it first',
    cause === undefined ? undefined : { cause },
  );

/** node-redis rejects commands on a client that is not open with ClientClosedError. */
function closedOr(error: unknown): unknown {
  return error instanceof Error && error.name === 'ClientClosedError' ? closedClient(error) : error;
}

/**
 * Keeps lock commands out of the client's offline queue past their deadline: a command queued
 * while the connection is down would be sent whenever it comes back, long after latchkey gave up
 * on it and cleaned up. Returns the client to send with: itself when ready (the hot path), a view
 * that drops the command when `deadline` expires (v5+), or, on older clients, a promise of the
 * client once ready, rejecting when `deadline` expires first. A client that is not open is refused at once.
 */
function offlineGuard(
  client: NodeRedisClient,
): (deadline?: CommandDeadline) => NodeRedisClient | Promise<NodeRedisClient> {
  const state = client as NodeRedisClient & ConnectionState;
  // Events and state are read on the client itself (a view shares them only through its
  // prototype); commands go through the view.
  const view = withoutCommandTimeout(state);
  const events = client as unknown as Partial<ReadyEvents>;
  const waitForReady =
    typeof events.once === 'function' && typeof events.removeListener === 'function'
      ? readyWaiter(events as ReadyEvents, 'end', () => closedClient())
      : undefined;
  return (deadline) => {
    if (state.isOpen === false) throw closedClient();
    if (state.isReady !== false || !deadline) return view;
    if (typeof view.withAbortSignal === 'function') return view.withAbortSignal(deadline.signal);
    if (!waitForReady) return view;
    return waitForReady(deadline.signal).then(() => view);
  };
}

/**
 * The view of `client` that latchkey sends its scripts through: without node-redis's own command
 * timeout (5 s by default from v5 on), which arms an `AbortSignal.timeout` per command and doubles
 * the client CPU of a lock. Every lock command already has latchkey's `commandTimeoutMs`, and one
 * sent while the connection is down is dropped at that deadline (offlineGuard). The client's other
 * command options (type mapping, …) stay; v4 has no such view and is used as it is.
 */
function withoutCommandTimeout(
  client: NodeRedisClient & ConnectionState,
): NodeRedisClient & ConnectionState {
  return typeof client.withCommandOptions === 'function'
    ? (client.withCommandOptions({ timeout: 0 }) as NodeRedisClient & ConnectionState)
    : client;
}

/**
 * The {@link RedisAdapter} over a connected node-redis client (`createClient()` or
 * `createCluster()`), for `new Locker(adapter)` or an adapter test; {@link createLocker} is the
 * shorter way to a locker. The client stays yours: latchkey closes only the connections it opened
 * itself.
 */
export function fromNodeRedis(client: NodeRedisClient): RedisAdapter {
  checkClientMethods(client, 'a node-redis client', ['evalSha', 'eval', 'duplicate']);
  // createCluster's client has evalSha too (routed by the first key); its node accessors give it
  // away, in v4 as in v5 and later.
  const cluster = client as unknown as Record<string, unknown>;
  if (typeof cluster.getMasters === 'function' || typeof cluster.getSlotMaster === 'function') {
    return fromNodeRedisCluster(client as NodeRedisClient & NodeRedisCluster);
  }
  const run = scriptSender(client);
  return {
    runScript: (script, keys, args, deadline) => run(script, keys, args, deadline),

    ...(typeof (client as Partial<Replicated>).wait === 'function' && {
      runScriptAndWait: (script, keys, args, deadline, replicas, timeoutMs) =>
        runFollowedByWait(
          (afterSend) => run(script, keys, args, deadline, afterSend),
          (target: NodeRedisClient) =>
            (target as NodeRedisClient & Replicated).wait(replicas, timeoutMs),
        ),
    }),

    async createSubscriber(): Promise<RedisSubscriber> {
      const connection = client.duplicate();
      connection.on('error', (error) => debug('node-redis subscriber error: %o', error));
      await connection.connect();
      const channels = new Set<string>();
      return {
        async subscribe(channel, onMessage) {
          await connection.subscribe(channel, (message) => onMessage(String(message)));
          channels.add(channel);
        },
        async unsubscribe(channel) {
          channels.delete(channel);
          await connection.unsubscribe(channel);
        },
        onReconnect(listener) {
          // node-redis re-subscribes on reconnect; 'ready' follows every (re)connection, and the
          // first one has already passed because connect() resolved above.
          connection.on('ready', listener);
          if (isSentinel(client)) afterPubSubErrors(connection, channels, listener);
        },
        close: () => closeConnection(connection),
      };
    },
    // A createSentinel client's duplicate takes no RESP3 options, so it cannot watch keys; the
    // locker then learns of a loss at the next refresh, and says so by not being offered one.
    ...(!isSentinel(client) && {
      createKeyWatcher: (onChanged: (keys: readonly string[] | null) => void) =>
        watchKeys(client, onChanged),
    }),
  };
}

/** Probes in a row after errors that keep coming (see afterPubSubErrors). */
const MAX_PROBE_ROUNDS = 10;

/**
 * A createSentinel client's 'ready' follows a change of primary only: its pub/sub connection
 * reconnects to the same primary (a dropped socket, CLIENT KILL) in silence, but for an 'error'.
 * So after each error we subscribe a probe channel: node-redis queues the SUBSCRIBE until the
 * connection is back and has re-subscribed our channels (it does that before sending anything
 * queued), so its reply means that messages reach us again and waiters should look now. The probe
 * is named after one of our channels, to stay inside what a least-privilege user may subscribe.
 */
function afterPubSubErrors(
  connection: NodeRedisSubscriberConnection,
  channels: ReadonlySet<string>,
  onBack: () => void,
): void {
  let probing = false;
  let erredWhileProbing = false;
  const probe = async (): Promise<void> => {
    const [some] = channels;
    if (some === undefined) return; // nothing subscribed, nothing to miss
    const channel = `${some}:probe`;
    await connection.subscribe(channel, () => {});
    await connection.unsubscribe(channel);
  };
  const probeUntilQuiet = async (): Promise<void> => {
    probing = true;
    try {
      // Bounded: a connection that keeps failing gets its waiters polling, not an endless probe.
      for (let round = 0; round === 0 || (erredWhileProbing && round < MAX_PROBE_ROUNDS); round++) {
        erredWhileProbing = false;
        await probe().catch((error: unknown) => debug('node-redis subscriber probe: %o', error));
      }
      onBack();
    } finally {
      probing = false;
    }
  };
  connection.on('error', () => {
    if (probing) erredWhileProbing = true;
    else void probeUntilQuiet();
  });
}

/** A node-redis `createSentinel` client (v5 and later). */
function isSentinel(client: NodeRedisClient): boolean {
  return typeof (client as { getSentinelNode?: unknown }).getSentinelNode === 'function';
}

/** The part of a node-redis `createCluster` client latchkey uses besides the scripts. */
interface NodeRedisCluster {
  readonly masters: readonly unknown[];
  readonly _options?: { readonly nodeAddressMap?: AddressMap };
  nodeClient(node: unknown): NodeRedisNodeClient | Promise<NodeRedisNodeClient>;
  sendCommand(firstKey: undefined, isReadonly: boolean, args: string[]): Promise<unknown>;
}

/** A cluster's client for one node, as a template for our own connections to nodes. */
interface NodeRedisNodeClient {
  readonly options?: { readonly socket?: object };
  duplicate(options: object): NodeRedisNodeSubscriber;
}

/** Our subscriber connection to one cluster node. */
interface NodeRedisNodeSubscriber extends NodeRedisSubscriberConnection {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'sharded-channel-moved', listener: (channel: unknown) => void): unknown;
  sSubscribe(
    channel: string,
    listener: (message: unknown, channel: unknown) => void,
  ): Promise<unknown>;
  sUnsubscribe(channel: string): Promise<unknown>;
}

/**
 * A Redis Cluster through node-redis's `createCluster`: scripts go to the master of their keys'
 * slot (all of a lock's keys share one), wake-ups over sharded pub/sub. The key watcher
 * watches each key on its slot's master (ClusterKeyWatcher). No WAIT (the `replicas` option): it
 * must follow the script on one connection, which the cluster client does not offer.
 */
function fromNodeRedisCluster(cluster: NodeRedisClient & NodeRedisCluster): RedisAdapter {
  const run = scriptSender(cluster);
  return clusterAdapter((script, keys, args, deadline) => run(script, keys, args, deadline), {
    ...clusterLinks(cluster),
    watchNode: async (host, port, onChanged, onLost) => {
      const node = await nodeConnections(cluster, host, port);
      return watchKeys(node as unknown as Pick<NodeRedisClient, 'duplicate'>, onChanged, onLost);
    },
  });
}

/**
 * Makes connections to one cluster node (`duplicate`, as watchKeys wants them): the settings of
 * the cluster's node clients, with the node's address and no reconnection (a lost node is looked
 * up again in the slot map).
 */
async function nodeConnections(cluster: NodeRedisCluster, host: string, port: number) {
  const master = cluster.masters[0];
  if (!master) throw new Error('the node-redis cluster knows no master yet');
  const template = await cluster.nodeClient(master);
  // The node clients' settings (password, TLS, …), our own address (through the cluster's
  // nodeAddressMap, which v5 and later keep in `_options`), no reconnection.
  const address = mapAddress(cluster._options?.nodeAddressMap, host, port);
  const socket = { ...template.options?.socket, ...address, reconnectStrategy: false };
  return { duplicate: (options: object) => template.duplicate({ ...options, socket }) };
}

/** How the cluster subscriber reaches the nodes of a node-redis cluster. */
function clusterLinks(cluster: NodeRedisCluster): ClusterLinks {
  return {
    clusterSlots: () => cluster.sendCommand(undefined, true, ['CLUSTER', 'SLOTS']),
    async connect(host, port, events) {
      const connection = (await nodeConnections(cluster, host, port)).duplicate({});
      connection.on('error', (error) => {
        debug('node-redis node subscriber error: %o', error);
        events.lost();
      });
      connection.on('end', () => events.lost());
      connection.on('sharded-channel-moved', (channel) => events.moved(String(channel)));
      try {
        await connection.connect();
      } catch (error) {
        await closeConnection(connection);
        throw error;
      }
      return {
        ssubscribe: async (channel) => {
          await connection.sSubscribe(channel, (message, from) =>
            events.message(String(from), String(message)),
          );
        },
        sunsubscribe: async (channel) => {
          await connection.sUnsubscribe(channel);
        },
        close: () => closeConnection(connection),
      };
    },
  };
}

/**
 * Sends a script (EVALSHA, or EVAL after NOSCRIPT) on a client or a cluster; `afterSend` runs
 * right after each send with the client it went through, in the same turn, so that a command it
 * sends follows the script on the same connection.
 */
function scriptSender(client: NodeRedisClient) {
  const sender = offlineGuard(client);
  const loads = new ScriptLoads();
  return async (
    script: LuaScriptSource,
    keys: readonly string[],
    args: readonly string[],
    deadline: CommandDeadline | undefined,
    afterSend?: (target: NodeRedisClient) => void,
  ): Promise<unknown> => {
    const options = { keys: [...keys], arguments: [...args] };
    try {
      let target = sender(deadline);
      if (target instanceof Promise) target = await target;
      const sent = target.evalSha(script.sha1, options);
      afterSend?.(target);
      return await sent;
    } catch (error) {
      if (!isNoScriptError(error)) throw closedOr(error);
      // The caller gave up on this command (and may have cleaned up after it): a fresh EVAL now
      // could take a lock nobody waits for.
      throwIfExpired(deadline);
      const send = async (command: (target: NodeRedisClient) => Promise<unknown>) => {
        const ready = sender(deadline);
        const target = ready instanceof Promise ? await ready : ready;
        const sent = command(target);
        afterSend?.(target);
        return sent;
      };
      try {
        return await loads.fallback(
          script.sha1,
          deadline,
          () => send((target) => target.eval(script.lua, options)),
          () => send((target) => target.evalSha(script.sha1, options)),
        );
      } catch (fallbackError) {
        throw closedOr(fallbackError);
      }
    }
  };
}

function closeConnection(connection: NodeRedisSubscriberConnection | NodeRedisWatcherConnection) {
  return closeWithin(
    SUBSCRIBER_CLOSE_TIMEOUT_MS,
    async () => {
      if (connection.close) await connection.close();
      else await connection.quit?.();
    },
    () => {
      if (connection.destroy) connection.destroy();
      else void connection.disconnect?.().catch(() => {});
    },
  );
}

/**
 * Client-side caching on node-redis: one RESP3 connection with CLIENT TRACKING on, whose
 * invalidation pushes node-redis emits as 'invalidate' events (a key, or null after a flush).
 * node-redis v4 speaks RESP2 only; there the watcher is refused and loss shows at the next refresh.
 */
async function watchKeys(
  client: Pick<NodeRedisClient, 'duplicate'>,
  onChanged: (keys: readonly string[] | null) => void,
  onLost?: () => void,
): Promise<RedisKeyWatcher> {
  const duplicate = client.duplicate as unknown as (options: object) => NodeRedisWatcherConnection;
  const connection = duplicate.call(client, { RESP: 3, emitInvalidate: true });
  connection.on('error', (error) => debug('node-redis key watcher error: %o', error));
  // Only connections made without reconnection end by themselves (a cluster node's).
  if (onLost) connection.on('end', onLost);
  connection.on('invalidate', (key) => onChanged(key === null ? null : [String(key)]));
  const track = () => connection.sendCommand(['CLIENT', 'TRACKING', 'ON']);
  try {
    await connection.connect();
    const info = String(await connection.sendCommand(['CLIENT', 'INFO']));
    if (!/\bresp=3\b/.test(info)) throw new Error('the key watcher needs RESP3 (node-redis v5+)');
    await track();
  } catch (error) {
    await closeConnection(connection);
    throw error;
  }
  return {
    read: async (key) => {
      const value = await connection.sendCommand(['GET', key]);
      return value === null || value === undefined ? null : String(value);
    },
    onReconnect(onBack) {
      // 'ready' follows every (re)connection; the first has passed (connect() resolved above).
      connection.on('ready', () => {
        track().then(onBack, (error: unknown) =>
          debug('node-redis key watcher set-up failed: %o', error),
        );
      });
    },
    close: () => closeConnection(connection),
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
