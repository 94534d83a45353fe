/**
 * The diagnostics events every lock kind publishes (wait start and end on the wait TracingChannel,
 * acquire, extend, extend-failed, release, lost), against a real redis-server.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mutexKeys } from '../../src/backends/redis/keys.js';
import {
  type AcquireEvent,
  CHANNELS,
  type ExtendEvent,
  type ExtendFailedEvent,
  type LostEvent,
  type ReleaseEvent,
  type WaitContext,
} from '../../src/diagnostics.js';
import {
  LOCK_ERROR_CODES,
  LockerClosedError,
  LockNotHeldError,
  LockTimeoutError,
} from '../../src/errors.js';
import { Locker } from '../../src/locker.js';
import { connectIORedis, connectNodeRedis } from '../helpers/adapters.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

interface Messages {
  waitStart: WaitContext;
  waitEnd: WaitContext;
  waitError: WaitContext;
  acquire: AcquireEvent;
  extend: ExtendEvent;
  extendFailed: ExtendFailedEvent;
  release: ReleaseEvent;
  lost: LostEvent;
}

type Recorded = {
  [C in keyof Messages]: { readonly channel: C; readonly message: Messages[C] };
}[keyof Messages];

/**
 * Records every lock event, each message copied when published (a wait's context is completed in
 * place at its end), and the wait contexts themselves to compare start with end.
 */
function recordEvents() {
  const events: Recorded[] = [];
  const contexts: { start: WaitContext[]; end: WaitContext[] } = { start: [], end: [] };
  const names = {
    waitStart: CHANNELS.waitStart,
    waitEnd: CHANNELS.waitEnd,
    waitError: `tracing:${CHANNELS.wait}:error`,
    acquire: CHANNELS.acquire,
    extend: CHANNELS.extend,
    extendFailed: CHANNELS.extendFailed,
    release: CHANNELS.release,
    lost: CHANNELS.lost,
  } as const;
  const handlers = Object.entries(names).map(([channel, name]) => {
    const handler = (message: unknown) => {
      if (channel === 'waitStart') contexts.start.push(message as WaitContext);
      if (channel === 'waitEnd') contexts.end.push(message as WaitContext);
      events.push({ channel, message: { ...(message as object) } } as Recorded);
    };
    diagnosticsChannel.subscribe(name, handler);
    return () => diagnosticsChannel.unsubscribe(name, handler);
  });
  return {
    events,
    contexts,
    /** The events about lock `name`. */
    of: (name: string) => events.filter((event) => event.message.name === name),
    /** The wait contexts of lock `name` published on `channel`, as they were then. */
    waits: (name: string, channel: 'waitStart' | 'waitEnd' | 'waitError') =>
      events
        .filter((event) => event.message.name === name && event.channel === channel)
        .map((event) => event.message as WaitContext),
    channels: (name: string) =>
      events.filter((event) => event.message.name === name).map((event) => event.channel),
    stop: () => {
      for (const unsubscribe of handlers) unsubscribe();
    },
  };
}

type Recorder = ReturnType<typeof recordEvents>;

/** Resolves once `check` passes, polling every 10 ms; rejects after `ms`. */
async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function message<C extends keyof Messages>(events: readonly Recorded[], channel: C): Messages[C] {
  const found = events.find((event) => event.channel === channel);
  if (!found) throw new Error(`no ${channel} event in ${events.map((e) => e.channel).join(', ')}`);
  return found.message as Messages[C];
}

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

for (const [label, connect] of [
  ['ioredis', connectIORedis],
  ['node-redis', connectNodeRedis],
] as const) {
  describe(`diagnostics › ${label}`, () => {
    let locker: Locker;
    let closeClient: () => Promise<void>;
    let recorder: Recorder;
    let names = 0;
    const fresh = () => `diag-${label}-${++names}`;
    beforeAll(async () => {
      const connected = await connect(server.url);
      locker = new Locker(connected.adapter);
      closeClient = connected.close;
    });
    afterAll(async () => {
      await locker?.close();
      await closeClient?.();
    });
    afterEach(() => recorder?.stop());

    it(`diagnostics › mutex › ${label} › publishes wait start, acquire, wait end, extend and release, in order, with the hold's identity`, async () => {
      recorder = recordEvents();
      const name = fresh();
      const lock = await locker.acquire(name, { waitMs: 1_000 });
      await lock.extend(5_000);
      await lock.release();

      expect(recorder.channels(name)).toEqual([
        'waitStart',
        'acquire',
        'waitEnd',
        'extend',
        'release',
      ]);
      const events = recorder.of(name);
      const identity = { name, token: lock.token, fencingToken: lock.fencingToken };
      expect(message(events, 'waitStart')).toEqual({ kind: 'mutex', name, waitMs: 1_000 });
      const acquired = message(events, 'acquire');
      expect(acquired).toMatchObject({ kind: 'mutex', ...identity });
      expect(Number.isInteger(acquired.waitedMs)).toBe(true);
      expect(message(events, 'waitEnd')).toMatchObject({
        kind: 'mutex',
        ...identity,
        outcome: 'acquired',
        waitedMs: acquired.waitedMs,
        result: lock,
      });
      const extended = message(events, 'extend');
      expect(extended).toMatchObject({ kind: 'mutex', ...identity, by: 'caller', ttlMs: 5_000 });
      // An extension never shortens: the lock keeps (about) the 10 s of its acquire.
      expect(Number.isInteger(extended.remainingMs)).toBe(true);
      expect(extended.remainingMs).toBeGreaterThan(5_000);
      const released = message(events, 'release');
      expect(released).toMatchObject({ kind: 'mutex', ...identity, outcome: 'released' });
      expect(Number.isInteger(released.heldMs) && released.heldMs >= 0).toBe(true);
      // One context object from start to end, so a subscriber can key a WeakMap on it.
      const start = recorder.contexts.start.find((context) => context.name === name);
      expect(recorder.contexts.end.find((context) => context.name === name)).toBe(start);
    });

    it(`diagnostics › wait › ${label} › ends a wait with outcome timeout (also a tryAcquire's), aborted or closed, the error on the TracingChannel's error event`, async () => {
      recorder = recordEvents();
      const name = fresh();
      const holder = await locker.acquire(name);

      await expect(locker.acquire(name, { waitMs: 100 })).rejects.toThrow(LockTimeoutError);
      expect(await locker.tryAcquire(name)).toBeNull();
      const controller = new AbortController();
      const aborted = locker.acquire(name, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('changed my mind')), 50);
      await expect(aborted).rejects.toThrow('changed my mind');

      const ends = recorder.waits(name, 'waitEnd');
      expect(ends.map((end) => [end.outcome, end.waitMs])).toEqual([
        ['acquired', 10_000],
        ['timeout', 100],
        ['timeout', 0],
        ['aborted', 10_000],
      ]);
      const errors = recorder.waits(name, 'waitError');
      expect(errors.map((context) => (context.error as Error).message)).toEqual([
        expect.stringContaining(name),
        expect.stringContaining(name),
        'changed my mind',
      ]);
      for (const end of ends.slice(1)) {
        expect(end.token).toBeUndefined();
        expect(Number.isInteger(end.waitedMs)).toBe(true);
      }
      expect((ends[1]?.waitedMs ?? 0) >= 90).toBe(true);
      await holder.release();
    });

    it(`diagnostics › close › ${label} › a close ends waits with outcome closed and reports held locks lost (closed), then released`, async () => {
      recorder = recordEvents();
      const connected = await connect(server.url);
      const closing = new Locker(connected.adapter);
      try {
        const name = fresh();
        const held = await closing.acquire(name);
        const waiting = closing.acquire(name).catch((error: unknown) => error);
        await eventually(
          () => recorder.channels(name).filter((c) => c === 'waitStart').length === 2,
        );
        await closing.close();
        expect(await waiting).toBeInstanceOf(LockerClosedError);

        const events = recorder.of(name);
        expect(events.map((event) => event.channel)).toEqual([
          'waitStart',
          'acquire',
          'waitEnd',
          'waitStart',
          'lost',
          'waitError',
          'waitEnd',
          'release',
        ]);
        expect(message(events, 'lost')).toMatchObject({
          kind: 'mutex',
          token: held.token,
          fencingToken: held.fencingToken,
          reason: 'closed',
        });
        expect(events[6]?.message).toMatchObject({ outcome: 'closed' });
        expect(message(events, 'release')).toMatchObject({
          token: held.token,
          outcome: 'released',
        });
      } finally {
        await closing.close();
        await connected.close();
      }
    });

    it(`diagnostics › loss › ${label} › a deleted key is reported lost (expired), and an extension then fails with LockNotHeldError`, async () => {
      recorder = recordEvents();
      const name = fresh();
      const lock = await locker.acquire(name);
      await server.command('DEL', mutexKeys('latchkey:', name).lock);
      await expect(lock.extend()).rejects.toThrow(LockNotHeldError);
      await lock.release();

      const events = recorder.of(name);
      expect(events.map((event) => event.channel)).toEqual([
        'waitStart',
        'acquire',
        'waitEnd',
        'lost',
        'extendFailed',
        'release',
      ]);
      const lost = message(events, 'lost');
      expect(lost).toMatchObject({ kind: 'mutex', token: lock.token, reason: 'expired' });
      expect(Number.isInteger(lost.heldMs)).toBe(true);
      const failed = message(events, 'extendFailed');
      expect(failed).toMatchObject({ token: lock.token, by: 'caller' });
      expect(failed.error).toBeInstanceOf(LockNotHeldError);
      expect(message(events, 'release')).toMatchObject({ outcome: 'expired' });
    });

    it(`diagnostics › stall › ${label} › while Redis stalls, an extension fails with LockBackendError and a failed release is published with outcome error`, async () => {
      recorder = recordEvents();
      const connected = await connect(server.url);
      const stalling = new Locker(connected.adapter, { commandTimeoutMs: 300 });
      try {
        const name = fresh();
        const lock = await stalling.acquire(name, { ttlMs: 5_000, autoRefresh: false });
        await server.command('CLIENT', 'PAUSE', 800, 'ALL');
        await expect(lock.extend()).rejects.toMatchObject({ code: LOCK_ERROR_CODES.backend });
        await expect(lock.release()).rejects.toMatchObject({ code: LOCK_ERROR_CODES.backend });

        const events = recorder.of(name);
        expect(events.map((event) => event.channel)).toEqual([
          'waitStart',
          'acquire',
          'waitEnd',
          'extendFailed',
          'release',
        ]);
        expect(message(events, 'extendFailed')).toMatchObject({ token: lock.token, by: 'caller' });
        expect(message(events, 'extendFailed').error).toMatchObject({
          code: LOCK_ERROR_CODES.backend,
        });
        const released = message(events, 'release');
        expect(released).toMatchObject({ token: lock.token, outcome: 'error' });
        expect(released.error).toMatchObject({ code: LOCK_ERROR_CODES.backend });
        await new Promise((resolve) => setTimeout(resolve, 800)); // let the pause end
      } finally {
        await stalling.close();
        await connected.close();
      }
    });

    it(`diagnostics › extend › ${label} › auto-refresh extensions say so, and a granted lock's claim says claim`, async () => {
      recorder = recordEvents();
      const name = fresh();
      const refreshed = await locker.acquire(name, { ttlMs: 300 });
      await eventually(() => recorder.channels(name).includes('extend'));
      expect(message(recorder.of(name), 'extend')).toMatchObject({
        token: refreshed.token,
        by: 'auto-refresh',
        ttlMs: 300,
      });
      // Without auto-refresh, a lock a release hands over is claimed for its ttl by one extension.
      const waiting = locker.acquire(name, { autoRefresh: false, ttlMs: 2_000 });
      await eventually(() => recorder.channels(name).filter((c) => c === 'waitStart').length === 2);
      await new Promise((resolve) => setTimeout(resolve, 50)); // in line
      await refreshed.release();
      const granted = await waiting;
      await eventually(() =>
        recorder
          .of(name)
          .some((event) => event.channel === 'extend' && event.message.token === granted.token),
      );
      const claim = recorder
        .of(name)
        .find((event) => event.channel === 'extend' && event.message.token === granted.token);
      expect(claim?.message).toMatchObject({ by: 'claim', ttlMs: 2_000 });
      await granted.release();
    });

    it(`diagnostics › kinds › ${label} › every kind publishes its waits, acquisitions and releases under its own kind; a multi-lock as one mutex per name`, async () => {
      recorder = recordEvents();
      const base = fresh();
      const permit = await locker.semaphore(`${base}-sem`, { limit: 2 }).acquire();
      await permit.release();
      const rw = locker.readWrite(`${base}-rw`);
      await (await rw.acquireRead()).release();
      await (await rw.acquireWrite()).release();
      const leadership = await locker.election(`${base}-el`).campaign('me');
      await leadership.resign();
      const reentrant = locker.reentrant(`${base}-re`);
      await reentrant.withLock(async () => {
        // Shared within the async context: no wait, no events of its own.
        await reentrant.withLock(async () => {});
      });
      const multi = await locker.multi([`${base}-m2`, `${base}-m1`]).acquire();
      await multi.release();

      const cycle = ['waitStart', 'acquire', 'waitEnd', 'release'];
      for (const [name, kind, cycles] of [
        [`${base}-sem`, 'semaphore', 1],
        [`${base}-rw`, 'read-write', 2],
        [`${base}-el`, 'election', 1],
        [`${base}-re`, 'reentrant', 1],
        [`${base}-m1`, 'mutex', 1],
        [`${base}-m2`, 'mutex', 1],
      ] as const) {
        expect(recorder.channels(name), name).toEqual(Array(cycles).fill(cycle).flat());
        expect(
          recorder.of(name).every((event) => event.message.kind === kind),
          name,
        ).toBe(true);
      }
      // A multi-lock takes its names in sorted order.
      const m1 = recorder.events.findIndex((event) => event.message.name === `${base}-m1`);
      const m2 = recorder.events.findIndex((event) => event.message.name === `${base}-m2`);
      expect(m1).toBeLessThan(m2);
    });
  });
}
