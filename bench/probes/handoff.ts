/**
 * Diagnostic, not part of `npm run bench`: splits one latchkey handoff into its steps, with holder
 * and waiter in one process (so no process switch is measured), on ioredis:
 * release start → the waiter's subscriber sees the grant → the waiter's acquire resolves. Also the
 * floor for a push handoff on the same machine: PUBLISH from one connection, and the receiving side
 * sends one command on another connection.
 *
 *   npx tsx bench/probes/handoff.ts [iterations]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createLocker } from '../../src/backends/redis/adapters/ioredis.js';
import { startRedis } from '../../test/helpers/redis-server.js';
import { nowUs } from '../clock.js';
import { summarize } from '../stats.js';

const iterations = Number(process.argv[2] ?? 400);
const server = await startRedis();
const holderClient = new Redis(server.url);
const waiterClient = new Redis(server.url);

// Observe the waiter's subscriber connection (latchkey opens it with duplicate()) without touching
// latchkey itself.
let wakeSeenAt = 0;
const duplicate = waiterClient.duplicate.bind(waiterClient);
Object.assign(waiterClient, {
  duplicate: (...args: Parameters<Redis['duplicate']>) => {
    const connection = duplicate(...args);
    connection.on('message', () => {
      wakeSeenAt = nowUs();
    });
    return connection;
  },
});

const holder = createLocker(holderClient);
const waiter = createLocker(waiterClient);
const steps = {
  ping: [],
  toWake: [],
  wakeToHeld: [],
  total: [],
  fromReply: [],
} as Record<string, number[]>;
try {
  for (let i = 0; i < iterations + 20; i++) {
    const held = await holder.acquire('probe:handoff');
    const waiting = waiter.acquire('probe:handoff');
    await sleep(3); // the waiter is queued and asleep
    const pingStart = nowUs();
    await holderClient.ping();
    const releaseStart = nowUs();
    await held.release();
    const releaseReply = nowUs();
    const next = await waiting;
    const acquired = nowUs();
    await next.release();
    if (i < 20) continue; // warm-up
    steps.ping?.push(releaseStart - pingStart);
    steps.toWake?.push(wakeSeenAt - releaseStart);
    steps.wakeToHeld?.push(acquired - wakeSeenAt);
    steps.total?.push(acquired - releaseStart);
    steps.fromReply?.push(acquired - releaseReply);
  }

  const subscriber = new Redis(server.url);
  const publisher = new Redis(server.url);
  const commander = new Redis(server.url);
  await subscriber.subscribe('probe:floor');
  let delivered: () => void = () => {};
  subscriber.on('message', () => {
    void commander.set('probe:floor', '1').then(() => delivered());
  });
  const floor: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const done = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    await sleep(3); // same idle gap as above: a cold wake-up costs more on a VM
    const start = nowUs();
    await publisher.publish('probe:floor', 'wake');
    await done;
    floor.push(nowUs() - start);
  }
  steps.floor = floor;
  subscriber.disconnect();
  publisher.disconnect();
  commander.disconnect();

  for (const [name, samples] of Object.entries(steps)) {
    const summary = summarize(samples);
    console.log(`${name.padEnd(11)} p50 ${summary.p50} µs  p99 ${summary.p99} µs`);
  }
} finally {
  await holder.close();
  await waiter.close();
  holderClient.disconnect();
  waiterClient.disconnect();
  await server.stop();
}
