/**
 * Steps the replication fault rows share (the Cluster's C1b, the Sentinel rows S1 and S1w): a
 * replication link cut and kept down, and a wait for the next acquisition. Admin commands go over
 * fresh connections (test/helpers/redis-server.ts); every wait is bounded.
 */
import type { RedisServer } from '../helpers/redis-server.js';
import { now } from './clock.js';
import type { ScenarioContext } from './scenario.js';

/** How long replicas may take to report their links down. */
const LINK_DOWN_MS = 5_000;

/**
 * Cuts the replication links between `primary` and `replicas` and keeps them down: each replica is
 * given a password the primary does not have (`masterauth`), so once the primary drops the links
 * (`CLIENT KILL TYPE replica`) every attempt to sync again fails at AUTH, and the primary's writes
 * from now on stay on it. Resolves once every replica reports its link down, with a function that
 * gives the replicas their empty password back.
 */
export async function cutReplication(
  primary: RedisServer,
  replicas: readonly RedisServer[],
): Promise<() => Promise<void>> {
  const restore = async () => {
    for (const replica of replicas) {
      await replica.command('CONFIG', 'SET', 'masterauth', '').catch(() => {});
    }
  };
  try {
    for (const replica of replicas) {
      const set = await replica.command('CONFIG', 'SET', 'masterauth', 'not-the-password');
      if (set !== 'OK') {
        throw new Error(`CONFIG SET masterauth on port ${replica.port}: ${String(set)}`);
      }
    }
    await primary.command('CLIENT', 'KILL', 'TYPE', 'replica');
    const until = now() + LINK_DOWN_MS;
    for (const replica of replicas) {
      while (
        !/^master_link_status:down/m.test(String(await replica.command('INFO', 'replication')))
      ) {
        if (now() > until) throw new Error(`the replica on port ${replica.port} kept its link up`);
        await new Promise((done) => setTimeout(done, 10));
      }
    }
    return restore;
  } catch (error) {
    await restore();
    throw error;
  }
}

/** Waits (up to `ms`) for an acquisition announced after this call; false if none came. */
export async function nextAcquisition(context: ScenarioContext, ms: number): Promise<boolean> {
  const before = context.acquisitions;
  const until = now() + ms;
  while (context.acquisitions === before) {
    if (now() > until) return false;
    await context.sleep(1);
  }
  return true;
}
