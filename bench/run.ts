/**
 * `npm run bench [-- --quick] [-- --libs=a,b] [-- --scenarios=uncontended,contended,...]`
 *
 * Runs latchkey and the libraries users would pick instead through the same scenarios in one run,
 * alternating between them, against a redis-server it starts on a free loopback port (plus a
 * second one that only holds the occupancy counter). Prints a markdown report on stdout and writes
 * the figures to bench/results/latest.json (`--quick`: latest-quick.json; or `--out=path`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/helpers/redis-server.js';
import type { CommandOrigins } from './command-audit.js';
import { FULL, QUICK } from './config.js';
import type { BenchContext } from './context.js';
import {
  CLUSTER_LIBRARY_IDS,
  FAMILY_LIBRARY_IDS,
  isLibraryId,
  LIBRARY_IDS,
  loadLibrary,
} from './libs/index.js';
import { WRITER_WEIGHT } from './mix.js';
import { WorkerPool } from './pool.js';
import { ServerStats } from './redis-stats.js';
import { renderReport } from './report.js';
import type { BenchResults, LibraryInfo } from './results.js';
import { type ClusterResult, runCluster } from './scenarios/cluster.js';
import { auditLibraries, type ContendedResult, runContended } from './scenarios/contended.js';
import { type FamilyResult, runLockFamily } from './scenarios/lock-family.js';
import { type ManyWaitersResult, runManyWaiters } from './scenarios/many-waiters.js';
import {
  type ReadWriteResult,
  type ReadWriteWaitersResult,
  runReadWrite,
  runReadWriteWaiters,
} from './scenarios/read-write.js';
import { type ReentrantResult, runReentrant } from './scenarios/reentrant.js';
import { runSemaphore, type SemaphoreResult } from './scenarios/semaphore.js';
import {
  type ManyKeysSummary,
  runSingleProcessScenarios,
  type UncontendedResult,
} from './scenarios/single-process.js';
import { round } from './stats.js';
import { checkTargets } from './targets.js';

const SCENARIOS = [
  'uncontended',
  'many-keys',
  'contended',
  'many-waiters',
  'semaphore',
  'read-write',
  'read-write-waiters',
  'lock-family',
  'reentrant',
  'cluster',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const METHOD: Record<string, string> = {
  alternation:
    'All libraries run in one process tree in one run. Scenarios 1, 3 and 8 interleave rounds between libraries; scenarios 2, 4, 5, 6 and 7 run the libraries one after another for each C or W, rotating the order, each in a fresh window.',
  'warm-up':
    'Each worker runs warm-up acquire+release pairs when it opens a library (for the read-write lock also read and write pairs, so its scripts are cached too), and each library runs one unmeasured many-keys round before the measured ones, so JIT warm-up is not measured for anyone.',
  processes:
    'Contenders and waiters are separate OS processes (node --import tsx bench/worker.ts), spawned once and reused; each run opens a fresh client of the library under test.',
  clock:
    'Times are CLOCK_MONOTONIC (process.hrtime), one clock for all processes on the machine, so a release in one process and the next acquisition in another are compared directly.',
  wait: 'Wait = from the moment a contender wants the lock (start of its acquire call) to holding it. A library that gives up (retry budget or acquire timeout spent) is called again at once, and the wait goes on; give-ups are counted.',
  handoff:
    'Release→other holder = from the start of a release to the next acquisition when the next holder is another process (acquisitions ordered by time; the same process re-acquiring counts as "self re-acq").',
  occupancy:
    'Each holder INCRs a counter on a second redis-server right after acquiring (the reply is awaited after the hold) and DECRs it before releasing; the hold is therefore 1 ms timer + one checker round trip; "max holders" is the highest value seen (1 = never two holders).',
  commands:
    'Lock-server counts come from INFO commandstats after CONFIG RESETSTAT, minus the harness\'s own commands. "cmds (all)" includes the commands scripts call (commandstats counts them too). "client cmds" are the commands clients sent: a MONITOR pass per library (C = audit contenders) tells, per command name, the share sent by clients vs called by scripts (`[0 lua]`), and that share is applied to the measured counts.',
  cpu: 'Redis CPU = used_cpu_sys + used_cpu_user of the lock server over the window.',
  memory:
    'Client heap per waiter = growth of the JS heap (after GC) of each waiter process from before its waiters start to after they settle, divided by its waiters, averaged over processes.',
  semaphore:
    'C processes share N permits of one key with each library\'s counting semaphore and its defaults, hold 1 ms (+ the checker round trip), straight back; "max holders" is the occupancy counter\'s highest value, which must not pass N. redis-semaphore 5 has no separate fair semaphore any more (its README: Semaphore is fair now), so its Semaphore stands for both.',
  'many waiters':
    'Each waiter acquires, holds, releases and goes back to the end of the line, so W stay waiting; handoffs = acquisitions during the window. Polling libraries run for the same bounded window; their figures are what they did in it.',
  'read-write': `C processes on one name; each turn is a read with probability p (a PRNG seeded with the process's number, so the rw lock and the mutex see the same sequence), hold 1 ms (+ the checker round trip), straight back. "latchkey rw" takes acquireRead / acquireWrite of latchkey's read-write lock, "latchkey mutex" takes latchkey's mutex for every turn, reads and writes alike (the baseline). Reads and writes are counted and their waits summarised separately; cmds and CPU are per acquisition of either kind.`,
  'read-write checker': `On the checker server a reader INCRBYs a counter by 1 right after acquiring and a writer by W = ${WRITER_WEIGHT.toLocaleString('en-US')}, and each DECRBYs the same before releasing (the increment's reply is read after the hold, as in scenario 2). The value v an increment returns is W × writers + readers in at that moment: readers alone stay below W, a writer alone is exactly W, so any v above W is a writer together with someone else, a "writer overlap" (counted once, by the later of the two increments; must be 0). "max readers" is the highest v mod W seen (1 for the mutex). A holder is checked from its increment to its decrement, which lie inside its hold.`,
  'lock family': `C processes on one name, hold 1 ms (+ the checker round trip), straight back, as in scenario 2. "reentrant": each hold is latchkey's reentrant lock taken by the process's owner id and entered a second time by the same owner (no wait; a Redis round trip) before the hold, both left after it. "election": campaign with the process's id, lead for the hold, resign. "multi": each hold takes 2 of 4 names drawn by the process's seeded PRNG, all or none (latchkey's multi-lock; node-redlock's acquire of several resources and redlock-universal's LockManager.acquireBatch, each with its default retries); the checker INCRs one counter per name, so "max holders" is per name. "mutex" is latchkey's plain lock in the same run, the baseline of each adapter. For the election, acq/s is terms a second and "release→other holder" is the hand-over: from the start of a leader's resign to the next leader's campaign resolving (in another process); it is left out for the multi-lock, whose holds of disjoint names overlap.`,
  cluster:
    "Redis Clusters started on loopback by the harness: one master serving every slot, then three masters with a replica each (test/helpers/redis-cluster.ts). The libraries that run on a Cluster open it through their client's cluster mode (ioredis Cluster; node-redis createCluster for latchkey-node-redis). Many keys: as scenario 3 (one worker per library, rounds alternating), on each cluster. Contended: as scenario 2 on the three-master cluster, libraries one after another per C. Commands per acquisition add up INFO commandstats over all nodes. Pub/sub per node: each node's PUBLISH and SPUBLISH calls in the window (scripts' calls included) per acquisition; \"lock master\" is the master of the key's slot (latchkey's keys carry the key as their hash tag).",
  reentrant:
    'One worker per latchkey adapter, uncontended, acquire+release pairs one after another, rounds rotating adapters and ways. "mutex": latchkey\'s mutex (the baseline). "owner": the reentrant lock acquired by an owner id while free. "nested": an acquire (no options) inside a withLock of the reentrant lock that the same worker holds, joining the hold through the async context (AsyncLocalStorage). "same owner, other process": an acquire by the owner id a second worker holds the lock with (joins the hold: one round trip, no wait). Any hold a way needs is taken before the lock server\'s counters are reset and released after they are read, so cmds/pair count the pairs alone; "scripts/pair" are the EVALSHA/EVAL calls, the client\'s round trips on these paths. No Node library in this benchmark has a reentrant lock (node-redlock, @sesamecare-oss/redlock, redis-semaphore and redlock-universal lock by key, whoever asks), so there is no peer row.',
  'read-write waiters':
    'W waiters on one read-write lock over the many-waiters processes, each turn of each waiter a read with probability p from its own seeded sequence, going back to the end of the line after its turn (a give-up retries the same operation). A grant = a reader or writer let in during the window; cmds and CPU are per grant. The mutex under the same crowd is scenario 4 (one grant per hand-over).',
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      libs: { type: 'string' },
      scenarios: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const config = values.quick ? QUICK : FULL;
  const libs = parseList(values.libs, LIBRARY_IDS, isLibraryId, 'library');
  const scenarios = parseList(values.scenarios, SCENARIOS, isScenario, 'scenario');
  const here = dirname(fileURLToPath(import.meta.url));
  const outFile = resolve(
    values.out ?? `${here}/results/${config.mode === 'quick' ? 'latest-quick' : 'latest'}.json`,
  );
  const log = (line: string) => process.stderr.write(`[bench ${elapsed()}] ${line}\n`);
  const started = performance.now();
  const elapsed = () => `${Math.round((performance.now() - started) / 1000)}s`;
  const loadAverageAtStart = round(loadavg()[0] ?? 0);

  const lockServer = await startRedis();
  const checker = await startRedis();
  const workerCount = Math.max(
    libs.length,
    ...(scenarios.includes('contended') ? config.contended.contenders : []),
    scenarios.includes('contended') ? config.audit.contenders : 0,
    scenarios.includes('many-waiters') ? config.manyWaiters.processes : 0,
    ...(scenarios.includes('semaphore') ? config.semaphore.contenders : []),
    ...(scenarios.includes('read-write') ? config.readWrite.contenders : []),
    ...(scenarios.includes('lock-family') ? config.family.contenders : []),
    scenarios.includes('read-write-waiters') ? config.manyWaiters.processes : 0,
    ...(scenarios.includes('cluster') ? config.cluster.contenders : []),
    // Scenario 8: per latchkey adapter, one worker measures and one holds for the same owner.
    scenarios.includes('reentrant')
      ? 2 * libs.filter((lib) => FAMILY_LIBRARY_IDS.includes(lib)).length
      : 0,
  );
  log(`lock server :${lockServer.port}, checker :${checker.port}; starting ${workerCount} workers`);
  const pool = await WorkerPool.start(workerCount);
  const stopAll = async () => {
    pool.stop();
    await Promise.all([lockServer.stop(), checker.stop()]);
  };
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130));
  });

  try {
    const context: BenchContext = {
      config,
      libs,
      pool,
      lockServer,
      stats: new ServerStats(lockServer),
      checker,
      log,
    };
    let uncontended: Record<string, UncontendedResult> = {};
    let manyKeys: Record<string, ManyKeysSummary> = {};
    let contended: ContendedResult[] = [];
    let manyWaiters: ManyWaitersResult[] = [];
    let semaphore: SemaphoreResult[] = [];
    let readWrite: ReadWriteResult[] = [];
    let readWriteWaiters: ReadWriteWaitersResult[] = [];
    let family: FamilyResult[] = [];
    let reentrant: ReentrantResult[] = [];
    let cluster: ClusterResult | undefined;
    let audits: Record<string, CommandOrigins> = {};
    if (scenarios.includes('uncontended') || scenarios.includes('many-keys')) {
      ({ uncontended, manyKeys } = await runSingleProcessScenarios(context, {
        uncontended: scenarios.includes('uncontended'),
        manyKeys: scenarios.includes('many-keys'),
      }));
    }
    if (scenarios.includes('contended') || scenarios.includes('many-waiters')) {
      audits = await auditLibraries(context);
    }
    if (scenarios.includes('contended')) contended = await runContended(context, audits);
    if (scenarios.includes('many-waiters')) manyWaiters = await runManyWaiters(context, audits);
    if (scenarios.includes('semaphore')) semaphore = await runSemaphore(context);
    if (scenarios.includes('read-write')) readWrite = await runReadWrite(context);
    if (scenarios.includes('read-write-waiters')) {
      readWriteWaiters = await runReadWriteWaiters(context);
    }
    if (scenarios.includes('lock-family')) family = await runLockFamily(context);
    if (scenarios.includes('reentrant')) reentrant = await runReentrant(context);
    const clusterLibs = libs.filter((lib) => CLUSTER_LIBRARY_IDS.includes(lib));
    if (scenarios.includes('cluster') && clusterLibs.length > 0) {
      cluster = await runCluster(context, clusterLibs);
    }

    const libraries: LibraryInfo[] = [];
    for (const id of libs) {
      const library = await loadLibrary(id);
      libraries.push({ id, label: library.label, waiting: library.waiting });
    }
    const results: BenchResults = {
      date: new Date().toISOString(),
      durationSec: Math.round((performance.now() - started) / 1000),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        memoryGiB: round(totalmem() / 2 ** 30),
        os: `${platform()} ${release()}`,
        node: process.versions.node,
        redis: await redisVersion(context),
        loadAverageAtStart,
      },
      config,
      libraries,
      method: METHOD,
      uncontended,
      contended,
      manyKeys,
      manyWaiters,
      semaphore,
      readWrite,
      readWriteWaiters,
      family,
      reentrant,
      ...(cluster && { cluster }),
      commandAudit: audits,
      targets: checkTargets(libs, {
        uncontended,
        contended,
        manyKeys,
        manyWaiters,
        semaphore,
        readWrite,
        readWriteWaiters,
        family,
        reentrant,
      }),
    };
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(renderReport(results));
    log(`wrote ${outFile} (free memory ${round(freemem() / 2 ** 30)} GiB)`);
  } finally {
    await stopAll();
  }
}

async function redisVersion(context: BenchContext): Promise<string> {
  const info = String(await context.lockServer.command('INFO', 'server'));
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
}

function isScenario(value: string): value is Scenario {
  return (SCENARIOS as readonly string[]).includes(value);
}

function parseList<T extends string>(
  text: string | undefined,
  all: readonly T[],
  is: (value: string) => value is T,
  what: string,
): T[] {
  if (text === undefined) return [...all];
  const picked = text.split(',').map((part) => part.trim());
  for (const value of picked) {
    if (!is(value)) throw new Error(`unknown ${what} "${value}"; one of: ${all.join(', ')}`);
  }
  return all.filter((value) => picked.includes(value));
}

await main();
