/**
 * The faults the harness injects, one function each. Each records in the fault timeline what it
 * did and when, so the checker can measure signals and recovery against it. All traffic stays on
 * loopback; every wait is bounded.
 */
import { createConnection } from 'node:net';
import { now } from './clock.js';
import type { Unavailable } from './issue8-checks.js';
import { isAlive, signal } from './processes.js';
import type { RedisNode } from './redis-node.js';
import { LOCK_KEY, type ScenarioContext, type WorkerHandle } from './scenario.js';

/** SIGKILL the current holder in the middle of its critical section. */
export async function killHolder(context: ScenarioContext): Promise<WorkerHandle> {
  const victim = await context.waitForHolder(30);
  signal(victim.process, 'SIGKILL');
  const at = now();
  context.record({ kind: 'worker-kill', at, worker: victim.id });
  context.injected(`SIGKILL holder ${victim.id}`);
  await victim.process.exited;
  return victim;
}

/** SIGSTOP the next worker that has a write in flight, for `ms`, then SIGCONT. */
export async function freezeInWriteWindow(context: ScenarioContext, ms: number): Promise<void> {
  const victim = await context.nextWriteWindow();
  signal(victim.process, 'SIGSTOP');
  const at = now();
  await context.sleep(ms);
  signal(victim.process, 'SIGCONT');
  context.record({ kind: 'worker-freeze', at, until: now(), worker: victim.id });
  context.injected(`SIGSTOP ${victim.id} for ${ms} ms with a write in flight`);
}

/** Blocks the event loop of the next worker that has a write in flight (Atomics.wait). */
export async function blockInWriteWindow(context: ScenarioContext, ms: number): Promise<void> {
  const victim = await context.nextWriteWindow();
  context.send(victim, { type: 'block', ms });
  context.injected(`event loop of ${victim.id} blocked ${ms} ms with a write in flight`);
  await context.sleep(ms);
}

/**
 * Takes a worker that waits in line (not one that holds) out for `ms`: `stop` SIGSTOPs its
 * process, `cut` blackholes its connections (they stay open, nothing passes). Either way Redis
 * still sees its subscriber, so a release may grant it the lock, which it cannot take. A worker
 * caught holding after all (its hold announced just as it was taken out) is let go at once and
 * another is tried. Returns who was out and when, or undefined if no waiter was caught.
 */
export async function disableWaiter(
  context: ScenarioContext,
  how: 'stop' | 'cut',
  ms: number,
): Promise<Unavailable | undefined> {
  const disable = (victim: WorkerHandle, out: boolean) => {
    if (how === 'stop') signal(victim.process, out ? 'SIGSTOP' : 'SIGCONT');
    else victim.proxy?.setMode({ kind: out ? 'blackhole' : 'pass' });
  };
  const record = (victim: WorkerHandle, at: number) =>
    context.record(
      how === 'stop'
        ? { kind: 'worker-freeze', at, until: now(), worker: victim.id }
        : { kind: 'network', at, until: now(), what: `blackhole ${victim.id}` },
    );
  for (let tries = 0; tries < 50; tries++) {
    const waiting = context.workers.filter(
      (worker) => isAlive(worker.process) && !context.isHolding(worker),
    );
    const victim = waiting[Math.floor(context.random() * waiting.length)];
    if (!victim || (how === 'cut' && !victim.proxy)) {
      await context.sleep(20);
      continue;
    }
    disable(victim, true);
    const at = now();
    await context.sleep(30);
    if (context.isHolding(victim)) {
      disable(victim, false);
      record(victim, at);
      continue;
    }
    await context.sleep(ms - 30);
    disable(victim, false);
    record(victim, at);
    const what = how === 'stop' ? 'SIGSTOP' : 'blackhole of the connections of';
    context.injected(`${what} waiter ${victim.id} for ${ms} ms`);
    return { worker: victim.id, from: at, to: now() };
  }
  return undefined;
}

/** SIGSTOP redis-server for `ms`, then SIGCONT. */
export async function freezeRedis(context: ScenarioContext, ms: number): Promise<void> {
  await context.waitForHolder();
  const at = now();
  context.redis.freeze();
  await context.sleep(ms);
  context.redis.thaw();
  context.record({ kind: 'redis-outage', at, until: now(), what: `redis SIGSTOP ${ms} ms` });
  context.injected(`redis SIGSTOP ${ms} ms`);
}

/** `DEBUG SLEEP` (the server stops serving for `seconds`). */
export async function debugSleep(context: ScenarioContext, seconds: number): Promise<void> {
  await context.waitForHolder();
  const at = now();
  await context.redis.command('DEBUG', 'SLEEP', String(seconds));
  context.record({ kind: 'redis-outage', at, until: now(), what: `DEBUG SLEEP ${seconds}` });
  context.injected(`DEBUG SLEEP ${seconds}`);
}

/** `CLIENT PAUSE ms ALL`: commands queue up, and keys do not expire, until the pause ends. */
export async function clientPause(context: ScenarioContext, ms: number): Promise<void> {
  await context.waitForHolder();
  const at = now();
  await context.redis.command('CLIENT', 'PAUSE', String(ms), 'ALL');
  await context.sleep(ms);
  context.record({ kind: 'redis-outage', at, until: at + ms, what: `CLIENT PAUSE ${ms} ALL` });
  context.injected(`CLIENT PAUSE ${ms} ALL`);
}

/**
 * kill -9 redis-server and start it again on the same port and directory, after `downMs`.
 * Without persistence every key is gone (a key loss the holder can observe once Redis is back).
 */
export async function restartRedis(
  context: ScenarioContext,
  { downMs, persistent }: { downMs: number; persistent: boolean },
): Promise<void> {
  await context.waitForHolder();
  const at = now();
  await context.redis.kill();
  if (downMs > 0) await context.sleep(downMs);
  await context.redis.restart();
  const until = now();
  context.record({ kind: 'redis-outage', at, until, what: 'redis kill -9 + restart' });
  if (!persistent) {
    context.record({
      kind: 'key-loss',
      at,
      observableAt: until,
      what: 'restart without persistence',
    });
  }
  const how = persistent ? 'with appendfsync always' : 'without persistence';
  context.injected(`redis kill -9, restart ${how} after ${Math.round(until - at)} ms`);
}

/** `CLIENT KILL` every normal and pub/sub connection (the workers'; not the admin one). */
export async function clientKill(context: ScenarioContext): Promise<void> {
  await context.waitForHolder();
  const at = now();
  const normal = await context.redis.command('CLIENT', 'KILL', 'TYPE', 'normal');
  const pubsub = await context.redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
  context.record({ kind: 'network', at, until: now(), what: 'CLIENT KILL' });
  context.injected(`CLIENT KILL: ${normal} normal, ${pubsub} pub/sub connections`);
}

/** Every worker's proxy ends its connections with a TCP RST. */
export async function resetConnections(context: ScenarioContext): Promise<void> {
  await context.waitForHolder();
  const at = now();
  for (const worker of context.workers) worker.proxy?.reset();
  context.record({ kind: 'network', at, until: now(), what: 'proxy RST' });
  context.injected('proxy RST of every connection');
}

/** The holder's proxy stops forwarding for `ms` (half-open connections), then heals. */
export async function blackholeHolder(context: ScenarioContext, ms: number): Promise<void> {
  const victim = await context.waitForHolder();
  if (!victim.proxy) throw new Error('blackhole needs a scenario with proxies');
  const at = now();
  victim.proxy.setMode({ kind: 'blackhole' });
  await context.sleep(ms);
  victim.proxy.setMode({ kind: 'pass' });
  context.record({ kind: 'network', at, until: now(), what: `blackhole ${victim.id} ${ms} ms` });
  context.injected(`blackhole of ${victim.id}'s connections for ${ms} ms`);
}

/** An admin deletes the held lock key. */
export async function deleteLockKey(context: ScenarioContext): Promise<void> {
  await context.waitForHolder();
  const at = now();
  const deleted = await context.redis.command('DEL', LOCK_KEY);
  context.record({ kind: 'key-loss', at, observableAt: at, what: 'DEL lock key' });
  context.injected(`DEL lock key (${deleted} deleted)`);
}

/** `FLUSHALL`: the lock key and the fencing counter are gone. */
export async function flushAll(context: ScenarioContext): Promise<void> {
  await context.waitForHolder();
  const at = now();
  await context.redis.command('FLUSHALL');
  context.record({ kind: 'key-loss', at, observableAt: at, what: 'FLUSHALL' });
  context.injected('FLUSHALL');
}

function infoField(info: string, field: string): number {
  const match = info.match(new RegExp(`^${field}:(\\d+)`, 'm'));
  return Number(match?.[1] ?? 0);
}

/**
 * Fills Redis past `maxmemory` under `volatile-ttl` until the held lock key is evicted (keys with
 * the shortest ttl go first, and a lock's ttl is short). The fencing counter has no ttl and stays.
 */
export async function evictLockKey(context: ScenarioContext): Promise<void> {
  await context.waitForHolder();
  const { redis } = context;
  const used = infoField(String(await redis.command('INFO', 'memory')), 'used_memory');
  const evictedBefore = infoField(String(await redis.command('INFO', 'stats')), 'evicted_keys');
  await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'volatile-ttl');
  await redis.command('CONFIG', 'SET', 'maxmemory', String(used + 512 * 1024));
  const filler = 'x'.repeat(16 * 1024);
  let evictedAt: number | undefined;
  for (let i = 0; i < 400 && evictedAt === undefined; i++) {
    await redis.command('SET', `filler:${i}`, filler, 'EX', '60');
    const at = now();
    const exists = Number(await redis.command('EXISTS', LOCK_KEY));
    const evicted = infoField(String(await redis.command('INFO', 'stats')), 'evicted_keys');
    if (exists === 0 && evicted > evictedBefore) evictedAt = at;
  }
  await redis.command('CONFIG', 'SET', 'maxmemory', '0');
  if (evictedAt === undefined) throw new Error('the lock key was not evicted');
  context.record({ kind: 'key-loss', at: evictedAt, observableAt: evictedAt, what: 'eviction' });
  context.injected('lock key evicted under maxmemory (volatile-ttl)');
}

const BUSY_SCRIPT = `
local start = redis.call('TIME')
local from = tonumber(start[1]) * 1000 + tonumber(start[2]) / 1000
while true do
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 - from > tonumber(ARGV[1]) then break end
end
return 1`;

/** A script that runs `ms` with `busy-reply-threshold` at 100 ms: everyone else gets BUSY. */
export async function busyScript(context: ScenarioContext, ms: number): Promise<void> {
  await context.waitForHolder();
  await context.redis.command('CONFIG', 'SET', 'busy-reply-threshold', '100');
  const at = now();
  await context.redis.command('EVAL', BUSY_SCRIPT, '0', String(ms));
  context.record({ kind: 'redis-outage', at, until: now(), what: `busy script ${ms} ms` });
  context.injected(`busy script for ${ms} ms (BUSY replies)`);
}

/**
 * A client that only holds `PSUBSCRIBE *` (a monitoring tool, a debugging session): every PUBLISH
 * counts it as a receiver, on every channel. It stays until the run ends.
 */
export async function idlePatternSubscriber(context: ScenarioContext): Promise<void> {
  const socket = createConnection({ port: context.redis.port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.on('data', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.write('*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n');
  context.onCleanup(() => {
    socket.destroy();
  });
  context.injected('idle PSUBSCRIBE * client');
}

/** SIGKILL `victim`, whatever it is doing (waiting, for instance). */
export async function killWorker(context: ScenarioContext, victim: WorkerHandle): Promise<number> {
  signal(victim.process, 'SIGKILL');
  const at = now();
  context.record({ kind: 'worker-kill', at, worker: victim.id });
  context.injected(`SIGKILL ${victim.id}`);
  await victim.process.exited;
  return at;
}

/** How many lockers' wake-up channels have a subscriber on the server now. */
export async function wakeChannelCount(context: ScenarioContext): Promise<number> {
  const channels = await context.redis.command('PUBSUB', 'CHANNELS', 'latchkey:wake:*');
  return Array.isArray(channels) ? channels.length : 0;
}

/**
 * Waits (bounded by `ms`) until fewer than `before` wake-up channels have a subscriber: Redis has
 * read the closed socket of a killed process and dropped its subscription. Returns when it did.
 */
export async function untilSubscriptionDropped(
  context: ScenarioContext,
  before: number,
  ms = 2_000,
): Promise<number> {
  const until = now() + ms;
  while (now() < until && (await wakeChannelCount(context)) >= before) await context.sleep(2);
  return now();
}

/** Samples the lock key's value every `everyMs` for `ms` (admin connection), into `samples`. */
export async function sampleLockKey(
  context: ScenarioContext,
  ms: number,
  everyMs: number,
  samples: { at: number; token: string | null }[],
): Promise<void> {
  const until = now() + ms;
  while (now() < until) {
    const at = now();
    const value = await context.redis.command('GET', LOCK_KEY).catch(() => null);
    samples.push({ at, token: typeof value === 'string' ? value : null });
    await context.sleep(everyMs);
  }
}

/**
 * `SCRIPT FLUSH` with every script but `reloaded` (as after a restart, once some client has run
 * those again), then `CLIENT PAUSE ms ALL`: lock commands sent now wait past their timeout, then
 * meet NOSCRIPT, which an adapter answers with EVAL; a clean-up whose script is cached runs first.
 */
export async function pauseWithFlushedScripts(
  context: ScenarioContext,
  ms: number,
  reloaded: readonly string[] = [],
): Promise<number> {
  await context.redis.command('SCRIPT', 'FLUSH');
  for (const lua of reloaded) await context.redis.command('SCRIPT', 'LOAD', lua);
  const at = now();
  await context.redis.command('CLIENT', 'PAUSE', String(ms), 'ALL');
  await context.sleep(ms);
  const until = at + ms;
  context.record({ kind: 'redis-outage', at, until, what: `SCRIPT FLUSH + CLIENT PAUSE ${ms}` });
  context.injected(
    `SCRIPT FLUSH${reloaded.length > 0 ? ` (${reloaded.length} script reloaded)` : ''}, then CLIENT PAUSE ${ms} ALL`,
  );
  return until;
}

/**
 * Under `allkeys-lru`, fills Redis just past `maxmemory` until the fencing counter is evicted (the
 * coldest key: only an acquisition touches it). Reports whether the lock key went too.
 */
export async function evictFencingCounter(
  context: ScenarioContext,
): Promise<{ counter: boolean; lockKey: boolean }> {
  await context.waitForHolder();
  const { redis } = context;
  const fenceKey = `${LOCK_KEY}:fence`;
  // Redis's LRU clock ticks once a second: wait until the counter is clearly the coldest (a holder
  // refreshes the lock key every refreshMs; waiters touch the queue keys when they poll).
  const coldBy = now() + 6_000;
  while (Number(await redis.command('OBJECT', 'IDLETIME', fenceKey).catch(() => 0)) < 2) {
    if (now() > coldBy) break;
    await context.sleep(100);
  }
  const used = infoField(String(await redis.command('INFO', 'memory')), 'used_memory');
  await redis.command('CONFIG', 'SET', 'maxmemory', String(used + 256 * 1024));
  const filler = 'x'.repeat(8 * 1024);
  let counter = false;
  let lockKeyGone = false;
  const at = now();
  for (let i = 0; i < 2_000 && !counter; i++) {
    await redis.command('SET', `filler:${context.seed}:${i}:${at}`, filler);
    counter = Number(await redis.command('EXISTS', fenceKey)) === 0;
  }
  lockKeyGone = Number(await redis.command('EXISTS', LOCK_KEY)) === 0;
  await redis.command('CONFIG', 'SET', 'maxmemory', '0');
  if (!counter) throw new Error('the fencing counter was not evicted');
  if (lockKeyGone) {
    context.record({ kind: 'key-loss', at, observableAt: now(), what: 'allkeys-lru eviction' });
  }
  context.injected(
    `allkeys-lru eviction of the fencing counter${lockKeyGone ? ' (and the lock key)' : ''}`,
  );
  return { counter, lockKey: lockKeyGone };
}

/** Asks the current holder (in withLock mode) to close its locker while its callback runs. */
export async function closeHolderLocker(context: ScenarioContext): Promise<void> {
  const victim = await context.waitForHolder(100);
  context.send(victim, { type: 'close-locker' });
  context.injected(`locker.close() in ${victim.id} during its callback`);
}

/** Makes a `--cluster-enabled yes` server serve every slot, as a one-node cluster. */
export async function serveAllSlots(redis: RedisNode): Promise<void> {
  await redis.command('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  const deadline = now() + 5_000;
  while (!/cluster_state:ok/.test(String(await redis.command('CLUSTER', 'INFO')))) {
    if (now() > deadline) throw new Error('the one-node cluster did not reach cluster_state:ok');
    await new Promise((done) => setTimeout(done, 20));
  }
}
