/**
 * Scenario 8's worker side: a reentrant hold kept between tasks (an owner's acquisition, or a
 * `withLock` whose async context later pairs run in), and timed acquire+release pairs, one after
 * another, bounded by count and time.
 */
import { nowUs } from '../clock.js';
import type { LockClient, NestedHold, ReentrantDriver } from '../libs/types.js';
import type { ReentrantPairsResult, Task } from '../protocol.js';

type EnterTask = Extract<Task, { kind: 'reentrant-enter' }>;
type PairsTask = Extract<Task, { kind: 'reentrant-pairs' }>;

/** What this worker keeps between tasks: how to leave the hold, and the withLock to nest in. */
let kept: { readonly leave: () => Promise<void>; readonly nested?: NestedHold } | undefined;

function driver(client: LockClient): ReentrantDriver {
  if (!client.reentrant) throw new Error('this library has no reentrant lock');
  return client.reentrant;
}

export async function enterReentrant(client: LockClient, task: EnterTask): Promise<null> {
  if (kept) throw new Error('a reentrant hold is already kept');
  const reentrant = driver(client);
  if (task.how === 'owner') {
    kept = { leave: await reentrant.holdAsOwner(task.key, task.owner, task.ttlMs) };
  } else {
    const nested = await reentrant.enterWithLock(task.key, task.ttlMs);
    kept = { leave: () => nested.leave(), nested };
  }
  return null;
}

export async function leaveReentrant(): Promise<null> {
  const leaving = kept;
  kept = undefined;
  await leaving?.leave();
  return null;
}

export async function runReentrantPairs(
  client: LockClient,
  task: PairsTask,
): Promise<ReentrantPairsResult> {
  const pair = pairFor(client, task);
  const pairUs: number[] = [];
  const deadline = nowUs() + task.maxMs * 1000;
  for (let i = 0; i < task.pairs && nowUs() < deadline; i++) {
    const before = nowUs();
    await pair();
    pairUs.push(nowUs() - before);
  }
  return { pairUs };
}

function pairFor(client: LockClient, task: PairsTask): () => Promise<void> {
  const { key, owner, ttlMs } = task;
  switch (task.way) {
    case 'mutex':
      return async () => {
        const held = await client.acquire(key, ttlMs);
        if (!held) throw new Error(`uncontended acquire of ${key} gave up`);
        await held.release();
      };
    case 'owner': {
      const reentrant = driver(client);
      return () => reentrant.ownerPair(key, owner, ttlMs);
    }
    case 'nested': {
      const nested = kept?.nested;
      if (!nested) throw new Error('no withLock kept to nest in (reentrant-enter, context)');
      return () => nested.nestedPair();
    }
  }
}
