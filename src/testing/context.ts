/**
 * What every part of the conformance suite shares: the server, lockers and connections made through
 * the adapter under test (closed after the suite), fresh names, and small waiting helpers.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { RedisAdapter } from '../backends/redis/adapter.js';
import type { MutexKeys } from '../backends/redis/keys.js';
import { type Lock, Locker, type LockerOptions } from '../index.js';
import type { ConformanceTarget, ConnectedAdapter, SuiteServer } from './types.js';
import { sleep, within } from './wait.js';

export const PREFIX = 'latchkey:';
/** Timeout of the slow tests, ms. */
export const SLOW = 60_000;

/**
 * A client that listens to every channel by pattern and otherwise stays idle, as a monitoring tool
 * or a debugging session might. PUBLISH counts it as a receiver of every message.
 *
 * It connects as the default user, over TLS for a `rediss://` url. There it does not check the
 * server's certificate nor offer one: the suite knows no CA or client certificate, and this
 * connection stands for a bystander whose trust is not under test. A server that requires client
 * certificates (`tls-auth-clients yes`) refuses it; `optional` still checks the lockers' ones.
 */
export async function patternListener(url: string): Promise<{ close(): void }> {
  const { hostname, port, protocol } = new URL(url);
  const address = { host: hostname, port: Number(port) };
  const socket =
    protocol === 'rediss:'
      ? tlsConnect({ ...address, rejectUnauthorized: false })
      : createConnection(address);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('PSUBSCRIBE got no reply within 5 s')), 5_000);
    socket.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.write('*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n');
  });
  socket.on('data', () => {}); // the messages it hears
  return { close: () => socket.destroy() };
}

export type SuiteContext = ReturnType<typeof createSuiteContext>;

/** Builds the shared context; `open` and `close` run in the suite's beforeAll and afterAll. */
export function createSuiteContext(target: ConformanceTarget) {
  let current: SuiteServer | undefined;
  /** Stands for the server the runner started, from `beforeAll` on. */
  const server: SuiteServer = {
    get url() {
      return started().url;
    },
    command: (...args) => started().command(...args),
  };
  const started = (): SuiteServer => {
    if (!current) throw new Error('the suite server is not started yet (use it inside a test)');
    return current;
  };
  const connections: ConnectedAdapter[] = [];
  const lockers: Locker[] = [];

  /** A locker on a fresh connection of the adapter under test (to `url`, or the suite's server). */
  async function newLocker(options?: LockerOptions, url = server.url): Promise<Locker> {
    const connection = await target.connect(url);
    connections.push(connection);
    const locker = new Locker(connection.adapter, options);
    lockers.push(locker);
    return locker;
  }

  /** A locker whose adapter lets a test act on what arrives, before latchkey sees it. */
  async function newTappedLocker(tap: {
    readonly onReply?: (scriptName: string, reply: unknown) => void;
    readonly onMessage?: (message: string) => void;
  }): Promise<Locker> {
    const connection = await target.connect(server.url);
    connections.push(connection);
    const { adapter } = connection;
    const tapped: RedisAdapter = {
      ...(adapter.cluster && { cluster: true }),
      async runScript(script, keys, args, deadline) {
        const reply = await adapter.runScript(script, keys, args, deadline);
        tap.onReply?.(script.name, reply);
        return reply;
      },
      async createSubscriber() {
        const subscriber = await adapter.createSubscriber();
        return {
          subscribe: (channel, onMessage) =>
            subscriber.subscribe(channel, (message) => {
              onMessage(message);
              tap.onMessage?.(message);
            }),
          ...(subscriber.onReconnect && {
            onReconnect: (listener: () => void) => subscriber.onReconnect?.(listener),
          }),
          close: () => subscriber.close(),
        };
      },
    };
    const locker = new Locker(tapped);
    lockers.push(locker);
    return locker;
  }

  /** A connection made through the adapter under test, closed after the suite. */
  async function connectAs(url: string): Promise<ConnectedAdapter> {
    const connection = await target.connect(url);
    connections.push(connection);
    return connection;
  }

  let counter = 0;
  /** A fresh lock name per test, so tests never see each other's keys. */
  const fresh = (label: string) => `${label}:${process.pid}:${++counter}`;
  const dbsize = async () => Number(await server.command('DBSIZE'));
  /**
   * Queues a waiter by hand, as mutex-acquire.lua would: `liveForMs` from the server's clock now
   * (negative: already past), granted for `ttlMs`, woken on `channel`.
   */
  const queueWaiter = async (
    keys: MutexKeys,
    token: string,
    entry: {
      readonly arrival: number;
      readonly liveForMs: number;
      readonly ttlMs: number;
      readonly channel: string;
    },
  ) => {
    const [seconds, micros] = (await server.command('TIME')) as [string, string];
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await server.command('ZADD', keys.queue, entry.arrival, token);
    await server.command(
      'HSET',
      keys.waiters,
      token,
      `${nowMs + entry.liveForMs} ${entry.ttlMs} 1 ${entry.channel}`,
    );
  };

  const settlesWithin = within;

  /**
   * Tries `name` from `other` every 25 ms until it gets it (bounded), checking each time it does
   * that `first` no longer reports the lock held: two holders must never both believe it.
   */
  async function secondHolderAfter(first: Lock, other: Locker, name: string): Promise<Lock> {
    const until = performance.now() + 8_000;
    while (performance.now() < until) {
      const second = await other.tryAcquire(name, { autoRefresh: false });
      if (second) {
        assert.equal(first.isHeld, false, 'a second holder got in while the first reports isHeld');
        assert.equal(first.signal.aborted, true);
        return second;
      }
      await sleep(25);
    }
    throw new Error(`no second holder within 8 s; first isHeld ${first.isHeld}`);
  }

  const aborted = (signal: AbortSignal) =>
    new Promise<unknown>((resolve) => {
      if (signal.aborted) resolve(signal.reason);
      else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
    });

  return {
    target,
    server,
    /** Connections and lockers a test made itself, to be closed after the suite. */
    connections,
    lockers,
    /** A number unique within the suite. */
    nextId: () => ++counter,
    PREFIX,
    SLOW,
    patternListener,
    newLocker,
    newTappedLocker,
    connectAs,
    fresh,
    dbsize,
    queueWaiter,
    sleep,
    settlesWithin,
    secondHolderAfter,
    aborted,
    async open(): Promise<void> {
      current = target.server();
      await current.command('FLUSHALL');
    },
    async close(): Promise<void> {
      await Promise.allSettled(lockers.map((locker) => locker.close()));
      await Promise.allSettled(connections.map((connection) => connection.close()));
    },
  };
}
