/**
 * `npm run demo`: what latchkey is for, in under a minute. Worker processes contend for one lock and
 * update a shared ledger that is guarded by fencing tokens; one holder is paused past its ttl and
 * another is killed while holding the lock. The summary shows the lock's figures and checks that
 * no two valid holders overlapped and that the paused holder's late write was refused. Exit code 0
 * when every invariant holds, 1 when one does not, 2 for a bad command line, 130 on interrupt.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDemoArgs, USAGE } from './args.js';
import { FaultPlan, faultTiming, shortestDurationS } from './faults.js';
import { Fleet } from './fleet.js';
import { ms, stamp } from './format.js';
import { Journal } from './journal.js';
import { FencedLedger } from './ledger.js';
import { LedgerServer } from './ledger-server.js';
import { Progress } from './progress.js';
import { crossProcessNow, type WorkerConfig } from './protocol.js';
import { type RedisTarget, redisTarget } from './redis-target.js';
import { summarize } from './summary.js';

const PREFIX = 'latchkey-demo:';
/** Simulated work between the ledger read and write, in ms. */
const WORK_MS = [10, 30] as const;
/** Worker processes start tsx, connect to Redis and to the ledger within this time, or the demo fails. */
const STARTUP_TIMEOUT_MS = 60_000;
/** After the run, workers finish their cycle and exit within this time, or they are killed. */
const STOP_GRACE_MS = 10_000;
/** Worker problems are narrated as they happen up to this many; the summary counts them all. */
const MAX_PROBLEMS_SHOWN = 10;

const cleanups: (() => unknown)[] = [];
let cleaning: Promise<void> | undefined;
/** Undoes everything the demo started, newest first; safe to call more than once. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => {});
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the workers and Redis`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseDemoArgs(argv);
  if ('error' in options) {
    if (!options.error) {
      console.log(USAGE);
      return 0;
    }
    console.error(`${options.error}\n\n${USAGE}`);
    return 2;
  }
  const timing = faultTiming(options.durationMs, options.ttlMs);
  if (!timing) {
    const shortest = shortestDurationS(options.ttlMs, 600);
    console.error(`--duration must be at least ${shortest} s with --ttl ${options.ttlMs}`);
    return 2;
  }

  const redis: RedisTarget = await redisTarget();
  const lockName = `ledger-${randomBytes(4).toString('hex')}`;
  cleanups.push(() => redis.cleanUp(`${PREFIX}{${lockName}}*`));
  console.log(`latchkey demo: ${options.workers} worker processes contend for lock "${lockName}"`);
  console.log(`  Redis: ${redis.description}`);
  console.log(
    `  ttl ${options.ttlMs} ms; each holder reads the ledger, works ${WORK_MS[0]}-${WORK_MS[1]} ms, writes with its fencing token`,
  );
  console.log(
    '  the ledger refuses a write whose token is lower than the highest it has seen (read or write)\n',
  );

  const ledger = new FencedLedger();
  const server = await LedgerServer.start(ledger);
  cleanups.push(() => server.close());
  const journal = new Journal();
  server.observe(journal);
  const hello = new Set<number>();
  server.observe({
    received(worker, message) {
      if (message.type === 'hello') hello.add(worker);
    },
  });

  const configs: WorkerConfig[] = Array.from({ length: options.workers }, (_, i) => ({
    worker: i + 1,
    ledgerPort: server.port,
    redisUrl: redis.url,
    prefix: PREFIX,
    lockName,
    ttlMs: options.ttlMs,
    workMs: WORK_MS,
    lifetimeMs: STARTUP_TIMEOUT_MS + options.durationMs + 3 * STOP_GRACE_MS,
  }));
  let startedAt = crossProcessNow();
  const say = (text: string) => console.log(`${stamp(crossProcessNow() - startedAt)} ** ${text}`);
  const fleet = new Fleet(configs, (worker, line) => console.error(`  w${worker}| ${line}`));
  cleanups.push(() => fleet.terminate(2_000));

  const spawnedAt = crossProcessNow();
  for (let waited = 0; hello.size < options.workers; waited += 50) {
    if (waited > STARTUP_TIMEOUT_MS || fleet.running.length < options.workers) {
      throw new Error(`only ${hello.size} of ${options.workers} workers started`);
    }
    await sleep(50);
  }

  startedAt = crossProcessNow();
  say(
    `${options.workers} workers connected to Redis and the ledger in ${ms(startedAt - spawnedAt)}`,
  );
  const faults = new FaultPlan(
    {
      pauseAt: startedAt + timing.pauseAtMs,
      pauseMs: timing.pauseMs,
      killAt: startedAt + timing.killAtMs,
      resumeGraceMs: timing.resumeGraceMs,
    },
    fleet,
    ledger,
    journal,
    say,
  );
  cleanups.push(() => faults.dispose());
  server.observe(faults);
  let problemsShown = 0;
  server.observe({
    received(worker, message) {
      if (message.type !== 'problem' || problemsShown > MAX_PROBLEMS_SHOWN) return;
      problemsShown++;
      say(
        problemsShown > MAX_PROBLEMS_SHOWN
          ? 'further worker problems are counted in the summary, not shown'
          : `w${worker}: ${message.message}`,
      );
    },
    written(worker, message, result) {
      if (result.accepted) return;
      say(
        `ledger REFUSED w${worker}'s write with token ${message.fence}: it has seen token ${result.highestFence} (stale holder fenced off)`,
      );
    },
  });
  const progress = new Progress(journal, ledger);
  say(
    `start; planned: pause a holder at ${(timing.pauseAtMs / 1_000).toFixed(1)} s for ${(timing.pauseMs / 1_000).toFixed(1)} s, kill a holder at ${(timing.killAtMs / 1_000).toFixed(1)} s`,
  );
  server.broadcast({ type: 'start' });

  const ticks = Math.ceil(options.durationMs / 1_000);
  for (let tick = 1; tick <= ticks; tick++) {
    const due = startedAt + Math.min(tick * 1_000, options.durationMs);
    await sleep(Math.max(0, due - crossProcessNow()));
    console.log(progress.line(crossProcessNow() - startedAt, fleet.running.length));
  }

  const ranForMs = crossProcessNow() - startedAt;
  faults.dispose();
  server.broadcast({ type: 'stop' });
  const stragglers = await fleet.waitForExit(STOP_GRACE_MS);
  if (stragglers.length > 0) await fleet.terminate(2_000);

  const badExits: string[] = [];
  for (const config of configs) {
    const status = fleet.status(config.worker);
    if (config.worker === faults.killed?.worker) continue;
    if (status?.code !== 0) {
      badExits.push(
        `w${config.worker} did not exit cleanly (${status ? `code ${status.code}, signal ${status.signal}` : 'still running'})`,
      );
    }
  }
  const summary = summarize({
    journal,
    ledger,
    paused: faults.paused,
    killed: faults.killed,
    ttlMs: options.ttlMs,
    workers: options.workers,
    ranForMs,
    badExits,
  });
  console.log(
    `\nSummary: ${(ranForMs / 1_000).toFixed(1)} s, ${options.workers} worker processes, ttl ${options.ttlMs} ms`,
  );
  for (const line of summary.lines) console.log(line);
  if (summary.failures.length === 0) {
    console.log(
      'Result: OK, every invariant holds: no overlap, the stale write was refused, the lock recovered',
    );
    return 0;
  }
  for (const failure of summary.failures) console.log(`FAILED: ${failure}`);
  return 1;
}
