/**
 * Runs one fault scenario end to end: starts Redis (one server, a Cluster of 3 masters with a
 * replica each, or a Sentinel set-up of a primary, 2 replicas and 3 Sentinels), the resource server and the worker processes (each through its own TCP proxy
 * when asked), lets them contend, injects the scenario's faults, stops everything, and runs the
 * checker over the logs. Every wait is bounded in time.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterNode, type ClusterSetup, startCluster } from '../helpers/redis-cluster.js';
import { type SentinelSetup, startSentinelSetup } from '../helpers/redis-sentinel.js';
import { type Reconstruction, reconstruct } from './attempts.js';
import type { CheckOptions, CheckResult, PropertyId, RunLogs, Violation } from './checker.js';
import { checkRun, DEFAULT_CHECK_OPTIONS } from './checker.js';
import { now, pause } from './clock.js';
import type {
  FaultEvent,
  HistoryEvent,
  OrchestratorMessage,
  ResourceEvent,
  ResourceMode,
  WorkerMessage,
} from './events.js';
import { JsonlWriter, readJsonl } from './jsonl.js';
import { isAlive, repoRoot, type Spawned, spawnTs, terminate, waitForLine } from './processes.js';
import { FaultProxy } from './proxy.js';
import { seededRandom } from './random.js';
import { RedisNode } from './redis-node.js';
import {
  type ClientKind,
  type ClientProfile,
  DEFAULT_SETTINGS,
  type Topology,
  type WorkerConfig,
} from './worker-config.js';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 6_000;
const LOCK_NAME = 'faults';
/** The Redis key of the lock every worker contends for (default prefix `latchkey:`). */
export const LOCK_KEY = `latchkey:{${LOCK_NAME}}`;

export interface WorkerOptions extends Partial<Omit<WorkerConfig, 'settings'>> {
  readonly settings?: Partial<WorkerConfig['settings']>;
}

export interface ScenarioSpec {
  /** Fault id from safety.md §6.4, with a suffix for variants (R3b, R8c, …). */
  readonly id: string;
  readonly title: string;
  /** Part of the fast subset that runs with the main test command. */
  readonly fast: boolean;
  /** Inside the failure model of safety.md §5 G1 (lease safety must hold). */
  readonly inModel: boolean;
  readonly mode: ResourceMode;
  readonly workers?: number;
  /** Client of each worker, cycled: default ioredis, node-redis, ioredis, … */
  readonly clients?: readonly ClientKind[];
  readonly profile?: ClientProfile;
  /**
   * `cluster`: the run starts a Cluster of 3 masters with a replica each (test/helpers/
   * redis-cluster.ts) instead of one server, the workers connect with the clients' cluster modes
   * through a master as seed, and `inject` gets the Cluster as `context.cluster` (`context.redis`
   * throws). A Cluster row takes no `redisArgs`, `setup` or `afterStop`: those act on one server.
   * Its `proxies` are one per node, shared by every worker, which reach the nodes through them by
   * their clients' address maps (`context.clusterProxy(node)`).
   * `sentinel`: the run starts a primary with 2 replicas and 3 Sentinels (test/helpers/
   * redis-sentinel.ts), the workers ask the Sentinels for the primary, and `inject` gets the set-up
   * as `context.sentinel`; the same options are refused, and `proxies` too.
   * @default 'single'
   */
  readonly topology?: Topology;
  readonly redisArgs?: readonly string[];
  /**
   * At most this long a worker must have held before a fault takes it for the holder (faults ask
   * for 0–30 ms); for runs whose critical sections are shorter than that.
   */
  readonly holderMinHeldMs?: number;
  /** Put each worker behind its own FaultProxy (on a Cluster: each node, see `topology`). */
  readonly proxies?: boolean;
  readonly worker?: WorkerOptions;
  readonly warmupMs?: number;
  readonly settleMs?: number;
  /** Violations of these properties are expected for this fault and documented as such. */
  readonly expected?: readonly PropertyId[];
  /** Overrides of the checker's options for this row (a tighter bound it checks). */
  readonly checkOptions?: Partial<CheckOptions>;
  /** Why the expected violations are expected (printed in the report). */
  readonly expectedBecause?: string;
  /** What the row checks beyond the common properties (printed in the report). */
  readonly checks?: string;
  /** Prepares the server before any worker starts. */
  setup?(redis: RedisNode): Promise<void>;
  /** Redis must refuse every lock: the run passes with no acquisition at all. */
  readonly refused?: boolean;
  inject(context: ScenarioContext): Promise<void>;
  /**
   * Runs once the workers have stopped, before Redis does (what the workers left behind), with
   * the same `keep` as `inject`.
   */
  afterStop?(redis: RedisNode, keep: (name: string, value: unknown) => void): Promise<void>;
  /** Checks of this scenario's own, over the run's logs and what `inject` kept. */
  verify?(input: VerifyInput): ScenarioVerdict;
}

export interface VerifyInput {
  readonly logs: RunLogs;
  readonly rebuilt: Reconstruction;
  readonly check: CheckResult;
  /** What `inject` kept with `context.keep`. */
  readonly kept: ReadonlyMap<string, unknown>;
}

export interface ScenarioVerdict {
  readonly violations: readonly Violation[];
  /** Figures for the report, by name. */
  readonly figures: Readonly<Record<string, string | number>>;
}

export interface WorkerHandle {
  readonly id: string;
  readonly process: Spawned;
  readonly config: WorkerConfig;
  readonly proxy: FaultProxy | undefined;
}

export interface ScenarioContext {
  /** The one server of a single-node row (throws in a Cluster or Sentinel row). */
  readonly redis: RedisNode;
  /** The Cluster of a Cluster row; undefined in the other rows. */
  readonly cluster: ClusterSetup | undefined;
  /** The Sentinel set-up of a Sentinel row; undefined in the other rows. */
  readonly sentinel: SentinelSetup | undefined;
  /** The proxy every worker reaches `node` through, in a Cluster row with `proxies`. */
  clusterProxy(node: ClusterNode): FaultProxy;
  readonly random: () => number;
  readonly seed: number;
  readonly workers: readonly WorkerHandle[];
  readonly settings: WorkerConfig['settings'];
  record(fault: FaultEvent): void;
  /** Counts one injected fault for the report. */
  injected(what: string): void;
  /** The worker holding the lock for at least `minHeldMs`, waiting up to `timeoutMs`. */
  waitForHolder(minHeldMs?: number, timeoutMs?: number): Promise<WorkerHandle>;
  /** The next worker to announce a write window, waiting up to `timeoutMs`. */
  nextWriteWindow(timeoutMs?: number): Promise<WorkerHandle>;
  /** Whether `worker` announced a hold it has not yet announced the end of. */
  isHolding(worker: WorkerHandle): boolean;
  send(worker: WorkerHandle, message: OrchestratorMessage): void;
  /** Starts one more worker (to replace a killed one, or one of another kind). */
  spawnWorker(options?: WorkerOptions): Promise<WorkerHandle>;
  sleep(ms: number): Promise<void>;
  /** Acquisitions the workers have announced so far. */
  readonly acquisitions: number;
  /** Keeps a value for the scenario's `verify`. */
  keep(name: string, value: unknown): void;
  /** Runs `cleanup` when the run ends (before Redis stops, and before the workers stop). */
  onCleanup(cleanup: () => void | Promise<void>): void;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly mode: ResourceMode;
  /** Set for a Cluster or Sentinel row (absent: one server, also in older reports). */
  readonly topology?: Topology;
  readonly inModel: boolean;
  readonly fast: boolean;
  readonly seed: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly faultsInjected: number;
  readonly faultLog: readonly string[];
  readonly workers: number;
  readonly expectedProperties: readonly PropertyId[];
  readonly expectedBecause: string | undefined;
  readonly checks: string | undefined;
  /** The scenario's own figures (see ScenarioSpec.verify). */
  readonly figures: Readonly<Record<string, string | number>>;
  readonly check: CheckResult;
  readonly expected: readonly Violation[];
  readonly unexpected: readonly Violation[];
  readonly passed: boolean;
  readonly logsDir: string | undefined;
  readonly error: string | undefined;
}

export interface RunOptions {
  readonly seed: number;
  /** Directory under which each run keeps its logs (a sub-directory per scenario). */
  readonly logsRoot: string;
  /** Keep logs of passing scenarios too. */
  readonly keepLogs: boolean;
}

class Run implements ScenarioContext {
  readonly workers: WorkerHandle[] = [];
  readonly random: () => number;
  readonly faults: FaultEvent[] = [];
  readonly faultLog: string[] = [];
  readonly #holders = new Map<string, { attempt: string; since: number }>();
  readonly #writeWindowWaiters: ((worker: WorkerHandle) => void)[] = [];
  readonly #faultWriter: JsonlWriter;
  readonly kept = new Map<string, unknown>();
  readonly #cleanups: (() => void | Promise<void>)[] = [];
  #nextWorker = 0;
  faultsInjected = 0;
  /** Acquisitions the workers announced (`held`): each one a hand-over in a contended run. */
  acquisitions = 0;

  readonly #redis: RedisNode | undefined;
  readonly cluster: ClusterSetup | undefined;
  readonly sentinel: SentinelSetup | undefined;
  /** A Cluster row's proxies, by the port of the node each stands before. */
  readonly #nodeProxies: ReadonlyMap<number, FaultProxy>;

  constructor(
    readonly spec: ScenarioSpec,
    server: Servers,
    readonly resourcePort: number,
    readonly dir: string,
    readonly seed: number,
  ) {
    this.#redis = server.redis;
    this.cluster = server.cluster;
    this.sentinel = server.sentinel;
    this.#nodeProxies = server.nodeProxies ?? new Map();
    this.random = seededRandom(seed);
    this.#faultWriter = new JsonlWriter(join(dir, 'faults.jsonl'));
  }

  get redis(): RedisNode {
    if (!this.#redis) {
      throw new Error(
        `${this.spec.id} runs on ${this.cluster ? 'a Redis Cluster: use context.cluster' : 'Sentinel: use context.sentinel'}`,
      );
    }
    return this.#redis;
  }

  clusterProxy(node: ClusterNode): FaultProxy {
    const proxy = this.#nodeProxies.get(node.port);
    if (!proxy) throw new Error(`${this.spec.id} has no proxy before node ${node.port}`);
    return proxy;
  }

  /** Where a new worker connects: the server, a master of the Cluster as its seed, a Sentinel. */
  async #serverPort(): Promise<number> {
    const [sentinel] = this.sentinel?.sentinels ?? [];
    if (sentinel) return sentinel.port;
    if (!this.cluster) return this.redis.port;
    const [seed] = await this.cluster.masters();
    if (!seed) throw new Error('no master of the Cluster answers');
    return seed.port;
  }

  get settings(): WorkerConfig['settings'] {
    return { ...DEFAULT_SETTINGS, ...this.spec.worker?.settings };
  }

  record(fault: FaultEvent): void {
    this.faults.push(fault);
    this.#faultWriter.append(fault);
  }

  injected(what: string): void {
    this.faultsInjected++;
    this.faultLog.push(what);
    this.record({ kind: 'note', at: now(), what });
  }

  sleep(ms: number): Promise<void> {
    return pause(ms);
  }

  keep(name: string, value: unknown): void {
    this.kept.set(name, value);
  }

  onCleanup(cleanup: () => void | Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  async cleanUp(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0))
      await Promise.resolve(cleanup()).catch(() => {});
  }

  send(worker: WorkerHandle, message: OrchestratorMessage): void {
    if (isAlive(worker.process) && worker.process.child.connected)
      worker.process.child.send(message);
  }

  async spawnWorker(extra: WorkerOptions = {}): Promise<WorkerHandle> {
    const index = this.#nextWorker++;
    const id = `w${index + 1}`;
    const clients = this.spec.clients ?? ['ioredis', 'node-redis'];
    const serverPort = await this.#serverPort();
    const proxy =
      this.spec.proxies && !this.cluster ? await FaultProxy.start(serverPort) : undefined;
    const options = { ...this.spec.worker, ...extra };
    // "host:port" as CLUSTER SLOTS announces each node → the port of the proxy before it.
    const nodeAddresses = Object.fromEntries(
      [...this.#nodeProxies].map(([port, nodeProxy]) => [`127.0.0.1:${port}`, nodeProxy.port]),
    );
    const config: WorkerConfig = {
      id,
      redisPort: proxy?.port ?? this.#nodeProxies.get(serverPort)?.port ?? serverPort,
      ...(this.cluster ? { topology: 'cluster' as const } : {}),
      ...(this.#nodeProxies.size > 0 ? { nodeAddresses } : {}),
      ...(this.sentinel
        ? {
            topology: 'sentinel' as const,
            sentinels: this.sentinel.sentinels.map((sentinel) => sentinel.port),
            sentinelName: this.sentinel.name,
          }
        : {}),
      resourcePort: this.resourcePort,
      lockName: LOCK_NAME,
      historyPath: join(this.dir, `history-${id}.jsonl`),
      client: clients[index % clients.length] ?? 'ioredis',
      profile: this.spec.profile ?? 'bounded',
      workMs: [50, 1_200],
      writeWindowMs: 0,
      idleMs: [0, 40],
      manualExtendShare: 0.3,
      maxCycles: 100_000,
      maxRunMs: 10 * 60_000,
      seed: (this.seed + index * 7_919) >>> 0,
      ...options,
      settings: { ...this.settings, ...extra.settings },
    };
    const spawned = spawnTs('worker.ts', [JSON.stringify(config)], true);
    const worker: WorkerHandle = { id, process: spawned, config, proxy };
    this.workers.push(worker);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${id} not ready: ${spawned.stderr()}`)),
        READY_TIMEOUT_MS,
      );
      spawned.child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        }
        this.#onMessage(worker, message);
      });
      spawned.child.once('exit', () => {
        clearTimeout(timer);
        this.#holders.delete(id);
        reject(new Error(`worker ${id} exited before ready: ${spawned.stderr()}`));
      });
    });
    await ready;
    return worker;
  }

  #onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    if (message.type === 'held') {
      this.acquisitions++;
      this.#holders.set(worker.id, { attempt: message.attempt, since: now() });
    } else if (message.type === 'free') this.#holders.delete(worker.id);
    else if (message.type === 'write-window') {
      const waiter = this.#writeWindowWaiters.shift();
      waiter?.(worker);
    }
  }

  isHolding(worker: WorkerHandle): boolean {
    return this.#holders.has(worker.id);
  }

  async waitForHolder(minHeldMs = 30, timeoutMs = 10_000): Promise<WorkerHandle> {
    minHeldMs = Math.min(minHeldMs, this.spec.holderMinHeldMs ?? minHeldMs);
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      for (const worker of this.workers) {
        const held = this.#holders.get(worker.id);
        if (held && isAlive(worker.process) && now() - held.since >= minHeldMs) return worker;
      }
      await pause(5);
    }
    throw new Error(`no worker held the lock for ${minHeldMs} ms within ${timeoutMs} ms`);
  }

  nextWriteWindow(timeoutMs = 10_000): Promise<WorkerHandle> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#writeWindowWaiters.indexOf(onWindow);
        if (index >= 0) this.#writeWindowWaiters.splice(index, 1);
        reject(new Error(`no write window within ${timeoutMs} ms`));
      }, timeoutMs);
      const onWindow = (worker: WorkerHandle) => {
        clearTimeout(timer);
        resolve(worker);
      };
      this.#writeWindowWaiters.push(onWindow);
    });
  }

  async stopWorkers(): Promise<void> {
    for (const worker of this.workers) {
      if (!isAlive(worker.process)) continue;
      worker.process.child.kill('SIGCONT');
      this.send(worker, { type: 'stop' });
    }
    await Promise.all(
      this.workers.map(async (worker) => {
        const timer = setTimeout(() => void terminate(worker.process), STOP_TIMEOUT_MS);
        await worker.process.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.workers.map((worker) => worker.proxy?.close()));
    this.#faultWriter.close();
  }

  histories() {
    return this.workers.map((worker) => ({
      worker: worker.id,
      events: readJsonl<HistoryEvent>(worker.config.historyPath),
    }));
  }
}

/** The Redis of a run: one server, a Cluster, or a Sentinel set-up. */
interface Servers {
  readonly redis?: RedisNode;
  readonly cluster?: ClusterSetup;
  readonly sentinel?: SentinelSetup;
  readonly nodeProxies?: ReadonlyMap<number, FaultProxy>;
}

/**
 * What a Cluster or Sentinel row cannot ask for: each acts on one server (see
 * ScenarioSpec.topology).
 */
function refuseOnSeveralServers(spec: ScenarioSpec): void {
  const asked = [
    spec.redisArgs && 'redisArgs',
    spec.setup && 'setup',
    spec.afterStop && 'afterStop',
    spec.topology !== 'cluster' && spec.proxies && 'proxies',
  ].filter((name): name is string => typeof name === 'string');
  if (asked.length > 0) {
    throw new Error(
      `${spec.id} runs on ${spec.topology === 'cluster' ? 'a Redis Cluster' : 'Sentinel'}, which takes no ${asked.join(', ')} (they act on one server)`,
    );
  }
}

export async function runScenario(
  spec: ScenarioSpec,
  options: RunOptions,
): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const started = now();
  const dir = join(options.logsRoot, `${spec.id}-${spec.mode}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const resourceLog = join(dir, 'resource.jsonl');
  let redis: RedisNode | undefined;
  let cluster: ClusterSetup | undefined;
  const nodeProxies = new Map<number, FaultProxy>();
  let sentinel: SentinelSetup | undefined;
  let resource: Spawned | undefined;
  let run: Run | undefined;
  let error: string | undefined;
  let endedAt = now();
  try {
    if (spec.topology === 'cluster') {
      refuseOnSeveralServers(spec);
      cluster = await startCluster();
      if (spec.proxies) {
        for (const node of cluster.nodes)
          nodeProxies.set(node.port, await FaultProxy.start(node.port));
      }
    } else if (spec.topology === 'sentinel') {
      refuseOnSeveralServers(spec);
      sentinel = await startSentinelSetup();
    } else {
      redis = await RedisNode.start(spec.redisArgs ?? []);
      await spec.setup?.(redis);
    }
    resource = spawnTs('resource-server.ts', [resourceLog, spec.mode], false);
    const portLine = await waitForLine(resource, /PORT (\d+)/, READY_TIMEOUT_MS);
    run = new Run(
      spec,
      {
        ...(redis && { redis }),
        ...(cluster && { cluster, nodeProxies }),
        ...(sentinel && { sentinel }),
      },
      Number(portLine[1]),
      dir,
      options.seed,
    );
    const count = spec.workers ?? 3;
    await Promise.all(Array.from({ length: count }, () => (run as Run).spawnWorker()));
    await pause(spec.warmupMs ?? 1_500);
    await spec.inject(run);
    await pause(spec.settleMs ?? 2_500);
  } catch (caught) {
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
  } finally {
    endedAt = now();
    redis?.thaw();
    await run?.cleanUp();
    await run?.stopWorkers().catch(() => {});
    await Promise.all([...nodeProxies.values()].map((proxy) => proxy.close().catch(() => {})));
    if (spec.afterStop && run && redis && error === undefined) {
      const kept = run.kept;
      await spec
        .afterStop(redis, (name, value) => kept.set(name, value))
        .catch((caught) => {
          error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
        });
    }
    if (resource) await terminate(resource);
    await redis?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
    await sentinel?.stop().catch(() => {});
  }

  const logs: RunLogs = {
    histories: run?.histories() ?? [],
    resource: readJsonl<ResourceEvent>(resourceLog),
    faults: run?.faults ?? [],
    endedAt,
  };
  const check = checkRun(logs, { ...DEFAULT_CHECK_OPTIONS, ...spec.checkOptions });
  let verdict: ScenarioVerdict = { violations: [], figures: {} };
  if (spec.verify && run) {
    try {
      verdict = spec.verify({
        logs,
        rebuilt: reconstruct(logs.histories, logs.faults),
        check,
        kept: run.kept,
      });
    } catch (caught) {
      error ??= caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
    }
  }
  const violations = [...check.violations, ...verdict.violations].sort((a, b) => a.at - b.at);
  const expectedProperties = spec.expected ?? [];
  const expected = violations.filter((v) => expectedProperties.includes(v.property));
  const unexpected = violations.filter((v) => !expectedProperties.includes(v.property));
  const acquiredAsExpected = spec.refused
    ? check.operations.acquired === 0
    : check.operations.acquired > 0;
  const passed = error === undefined && unexpected.length === 0 && acquiredAsExpected;
  const keep = options.keepLogs || !passed;
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return {
    id: spec.id,
    title: spec.title,
    mode: spec.mode,
    ...(spec.topology && spec.topology !== 'single' ? { topology: spec.topology } : {}),
    inModel: spec.inModel,
    fast: spec.fast,
    seed: options.seed,
    startedAt,
    durationMs: Math.round(now() - started),
    faultsInjected: run?.faultsInjected ?? 0,
    faultLog: run?.faultLog ?? [],
    workers: run?.workers.length ?? 0,
    expectedProperties,
    expectedBecause: spec.expectedBecause,
    checks: spec.checks,
    figures: verdict.figures,
    check: { ...check, violations },
    expected,
    unexpected,
    passed,
    logsDir: keep ? dir.replace(`${repoRoot}/`, '') : undefined,
    error,
  };
}
