/**
 * Leader election's part of the conformance suite: campaign, leader, resign hand-over, terms,
 * observers told by push (not at a lease end), a dead leader replaced after its lease, loss of
 * leadership signalled, bad input, and many processes campaigning against an O_EXCL marker.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { electionKeys } from '../backends/redis/keys.js';
import { type Leader, LOCK_ERROR_CODES, LockLostError } from '../index.js';
import {
  assertNoKeys,
  inTempDir,
  type KindSuiteContext,
  PREFIX,
  runWorkers,
  sleep,
  track,
  until,
  within,
} from './kind-helpers.js';
import type { TestApi } from './types.js';
import type { WorkerTask } from './worker.js';

/** Collects what an observer yields, until `stop` aborts. */
function collect(iterator: AsyncIterable<Leader | undefined>) {
  const seen: (Leader | undefined)[] = [];
  const done = (async () => {
    for await (const leader of iterator) seen.push(leader);
  })();
  done.catch(() => {});
  return { seen, done };
}

export function registerElectionTests(api: TestApi, ctx: KindSuiteContext): void {
  const { it } = api;
  const title = (text: string) => `Election › ${text}`;

  it(title('one leader at a time; resigning hands over to the next candidate'), async () => {
    const [a, b] = await Promise.all([ctx.newLocker(), ctx.newLocker()]);
    const name = ctx.fresh('el-basic');
    assert.equal(await a.election(name).leader(), undefined);
    const first = await a.election(name).campaign('host-a');
    assert.equal(first.value, 'host-a');
    const seen = await b.election(name).leader();
    assert.deepEqual(
      { value: seen?.value, fencingToken: seen?.fencingToken },
      { value: 'host-a', fencingToken: first.fencingToken },
    );
    assert.ok((seen?.remainingMs ?? 0) > 0);
    const second = track(b.election(name).campaign('host-b', { waitMs: 20_000 }));
    await sleep(150);
    assert.equal(second.state.settled, false, 'a second leader while the first leads');
    assert.deepEqual(await first.resign(), { outcome: 'released', released: true });
    const next = await within(second.done, 5_000, 'the next leader after a resign');
    assert.ok(next.fencingToken > first.fencingToken, 'terms grow');
    assert.equal((await a.election(name).leader())?.value, 'host-b');
    await next.resign();
    assert.equal(await a.election(name).leader(), undefined);
  });

  it(title('observers are told of each change by push, not at the end of a lease'), async () => {
    const [a, b, watcher] = await Promise.all([
      ctx.newLocker({ ttlMs: 30_000 }),
      ctx.newLocker({ ttlMs: 30_000 }),
      ctx.newLocker(),
    ]);
    const name = ctx.fresh('el-observe');
    const stop = new AbortController();
    const observed = collect(watcher.election(name).observe({ signal: stop.signal }));
    await until('the observer saw no leader', async () => observed.seen.length === 1);
    assert.equal(observed.seen[0], undefined);
    const first = await a.election(name).campaign('host-a');
    await until('the observer saw host-a', async () => observed.seen.at(-1)?.value === 'host-a');
    await first.proclaim('host-a, v2');
    assert.equal(first.value, 'host-a, v2');
    await until(
      'the observer saw the new value',
      async () => observed.seen.at(-1)?.value === 'host-a, v2',
    );
    const second = b.election(name).campaign('host-b', { waitMs: 20_000 });
    await first.resign();
    // The lease is 30 s: only a push gets the change to the observer this soon.
    await until('the observer saw host-b', async () => observed.seen.at(-1)?.value === 'host-b');
    const terms = observed.seen.filter((leader) => leader).map((leader) => leader?.fencingToken);
    assert.deepEqual(terms, [first.fencingToken, first.fencingToken, (await second).fencingToken]);
    stop.abort();
    await within(observed.done, 2_000, 'the observation to end on abort');
    await (await second).resign();
  });

  it(title('a leader that dies is replaced after its lease, and observers see it'), async () => {
    const [a, b, watcher] = await Promise.all([ctx.newLocker(), ctx.newLocker(), ctx.newLocker()]);
    const name = ctx.fresh('el-dead');
    // Observing before the campaign: an observer set up after it (a node-redis Sentinel client
    // takes 70-300 ms to subscribe, more under load) could start after the short lease ended.
    const stop = new AbortController();
    const observed = collect(watcher.election(name).observe({ signal: stop.signal }));
    await until('the observer saw no leader yet', async () => observed.seen.length === 1);
    // No refresh and never resigned: a leader whose process died.
    const dead = await a.election(name).campaign('dead', { ttlMs: 1_500, autoRefresh: false });
    await until(
      'the observer saw the dead leader',
      async () => observed.seen.at(-1)?.value === 'dead',
    );
    // Without a candidate behind it, the observer still sees the lease end.
    await until(
      'the observer saw no leader',
      async () => observed.seen.at(-1) === undefined,
      5_000,
    );
    assert.equal(dead.isHeld, false);
    const next = await b.election(name).campaign('next', { waitMs: 5_000 });
    await until(
      'the observer saw the next leader',
      async () => observed.seen.at(-1)?.value === 'next',
    );
    assert.ok(next.fencingToken > dead.fencingToken);
    stop.abort();
    await observed.done;
    await next.resign();
    assert.deepEqual(await dead.resign(), { outcome: 'expired', released: false });
  });

  it(title('a leader is told at once through its signal when it stops leading'), async () => {
    const locker = await ctx.newLocker();
    const name = ctx.fresh('el-lost');
    const leadership = await locker.election(name).campaign('host');
    await ctx.server().command('DEL', electionKeys(PREFIX, name).lock);
    await assert.rejects(leadership.proclaim('again'), { code: LOCK_ERROR_CODES.notHeld });
    assert.equal(leadership.signal.aborted, true);
    assert.ok(leadership.signal.reason instanceof LockLostError);
    assert.equal(leadership.value, 'host');
    assert.equal(await locker.election(name).leader(), undefined);
    assert.equal((await leadership.resign()).outcome, 'expired');
  });

  it(title('observing ends when the locker closes, and leaves nothing running'), async () => {
    const watcher = await ctx.newLocker();
    // A signal aborted already is refused at once with its reason, as acquire refuses it.
    const before = new AbortController();
    before.abort(new Error('not wanted'));
    assert.throws(
      () => watcher.election(ctx.fresh('el-aborted')).observe({ signal: before.signal }),
      /not wanted/,
    );
    const observed = collect(watcher.election(ctx.fresh('el-close')).observe());
    await until('the observer saw no leader', async () => observed.seen.length === 1);
    await watcher.close();
    await within(observed.done, 2_000, 'the observation to end at close');
    assert.throws(() => watcher.election('x'), { code: LOCK_ERROR_CODES.closed });
  });

  it(title('bad input is refused before anything reaches Redis'), async () => {
    const locker = await ctx.newLocker();
    const invalid = { code: LOCK_ERROR_CODES.invalidArgument };
    for (const name of ['', 42, null]) {
      assert.throws(() => locker.election(name as never), invalid, String(name));
    }
    const name = ctx.fresh('el-bad');
    const election = locker.election(name);
    for (const value of [42, null, undefined, '\ud800', 'x'.repeat(65_537)]) {
      await assert.rejects(election.campaign(value as never), invalid, String(value).slice(0, 9));
    }
    await assert.rejects(election.campaign('v', { ttlMs: 5 }), invalid);
    await assert.rejects(election.campaign('v', { owner: 'x' } as never), invalid);
    assert.throws(() => election.observe({ signal: 'no' } as never), invalid);
    assert.throws(() => election.observe(42 as never), invalid);
    await assertNoKeys(ctx, electionKeys(PREFIX, name));
  });

  const { startWorker } = ctx;
  if (startWorker) {
    it(title('5 processes campaign for 15 terms each: never two leaders, terms grow'), async () => {
      await inTempDir('latchkey-el-', async (dir) => {
        const terms = Math.max(5, Math.round(15 * ctx.scale));
        const name = ctx.fresh('el-processes');
        const fenceFile = join(dir, 'fences');
        const tasks = Array.from<unknown, WorkerTask>({ length: 5 }, () => ({
          kind: 'election',
          url: ctx.server().url,
          name,
          terms,
          ttlMs: 5_000,
          markerFile: join(dir, 'leader'),
          fenceFile,
        }));
        const violations = await runWorkers(startWorker, tasks);
        assert.equal(violations, 0, 'two leaders at once, or a reader saw another leader');
        const fences = readFileSync(fenceFile, 'utf8')
          .trim()
          .split('\n')
          .map((line) => Number(line.split(' ')[0]));
        assert.equal(fences.length, 5 * terms);
        for (let i = 1; i < fences.length; i++) {
          assert.ok(
            (fences[i] ?? 0) > (fences[i - 1] ?? 0),
            `term ${fences[i]} after ${fences[i - 1]}`,
          );
        }
      });
    }, 180_000);
  }
}
