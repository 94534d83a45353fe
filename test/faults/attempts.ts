/**
 * Rebuilds every acquire attempt of a run from the workers' histories, and each held lock's
 * validity from what Redis did with the recorded commands, never from the library's own rule: the
 * earliest moment the server can have expired (or deleted) the key, minus the drift allowance.
 * A command runs at some moment between its send time and its reply, so a ttl or PTTL it set
 * counts from the send time: the earliest expiry. Pure functions; the checker builds its
 * properties on top.
 */
import { GRANT_CLAIM_MS } from '../../src/backends/redis/scripts/index.js';
import type { FaultEvent, HistoryEvent, WorkerLockSettings } from './events.js';

type CommandEvent = Extract<HistoryEvent, { kind: 'command' }>;

export interface WorkerHistory {
  readonly worker: string;
  readonly events: readonly HistoryEvent[];
}

/**
 * A step of a held lock's validity: a command for its token after which the server's expiry of the
 * key (or the key itself) may be elsewhere. `at` is when the step takes effect for the checker: the
 * reply of an extend, the send time of a release (the key may be gone from then on).
 */
export interface ValidityStep {
  readonly kind: 'extend' | 'release';
  /** For an extend: Redis answered that it extended the key (the key was still ours). */
  readonly extended: boolean;
  readonly replyAt: number;
  readonly before: number;
  readonly after: number;
}

export interface Attempt {
  readonly worker: string;
  readonly attempt: string;
  /** The lock name, when the run has several (a multi-lock's); one lock otherwise. */
  readonly lock?: string;
  readonly settings: WorkerLockSettings;
  /** How much may be held at once (1: exclusive), and how much of it this attempt took. */
  readonly capacity: number;
  weight: number;
  /** A reentrant lock's owner: holds of one owner may overlap and share a fencing token. */
  owner?: string;
  readonly invokeAt: number;
  okAt?: number;
  failAt?: number;
  failCode?: string;
  token?: string;
  fence?: number;
  lostAt?: number;
  lostReason?: string;
  releaseInvokeAt?: number;
  releaseAt?: number;
  releaseOutcome?: string;
  releaseFailed?: boolean;
  readonly extends: { invokeAt: number; okAt?: number; failAt?: number }[];
  readonly checks: { at: number; held: boolean }[];
  /** Send time of the acquire command whose reply granted the lock. */
  grantSentAt?: number;
  /** Validity at grant time (grantSentAt + ttl − drift), before any extension. */
  initialDeadline?: number;
  /** Final validity deadline after every extension and the release. */
  deadlineAt?: number;
  /** The holder's own claims: `acquire-ok` and `check` times with `remainingMs`. */
  readonly claims: { at: number; until: number; what: 'acquire' | 'check' }[];
  /** How `withLock` settled, for workers in withLock mode. */
  withLock?: { at: number; ok: boolean; code?: string; reason?: string };
  readonly steps: ValidityStep[];
}

export interface WorkerTimeline {
  readonly worker: string;
  readonly settings: WorkerLockSettings;
  readonly startedAt: number;
  readonly stoppedAt: number | undefined;
  /** Intervals in which the worker could not run: SIGSTOP (from faults) or a blocked event loop. */
  readonly frozen: readonly { at: number; until: number }[];
  readonly killedAt: number | undefined;
  readonly lag: readonly Extract<HistoryEvent, { kind: 'lag' }>[];
  /** Acquire replies that granted the lock to a token whose acquire did not succeed with it. */
  readonly abandonedGrants: number;
}

export interface Reconstruction {
  readonly attempts: Attempt[];
  readonly workers: Map<string, WorkerTimeline>;
}

/** The scripts of each step, whatever the kind (their replies have the mutex's shapes). */
export const ACQUIRE_SCRIPTS: ReadonlySet<string> = new Set([
  'mutex-acquire',
  'semaphore-acquire',
  'reentrant-acquire',
]);
const EXTEND_SCRIPTS = new Set([
  'mutex-extend',
  'semaphore-extend',
  'election-extend',
  'reentrant-extend',
]);
const RELEASE_SCRIPTS = new Set(['mutex-release', 'semaphore-release', 'reentrant-release']);
/**
 * Acquire scripts whose waiters another call grants for a claim window (min(ttl,
 * GRANT_CLAIM_MS) from the moment it runs), not for their ttl. For the mutex only a release
 * grants (mutex-release.lua); a semaphore's (or reentrant lock's) waiters are granted by any call
 * that frees room, acquires included.
 */
const CLAIM_WINDOW_ACQUIRES = new Set(['mutex-acquire', 'semaphore-acquire', 'reentrant-acquire']);

/**
 * Every release run that handed a lock on, by lock key, in send order: `at` is its reply, the
 * latest moment it can have run (a run whose reply is unknown counts as running until the end).
 */
export type HandOvers = ReadonlyMap<string, readonly { sentAt: number; at: number }[]>;

export function handOversByKey(histories: readonly WorkerHistory[]): HandOvers {
  const byKey = new Map<string, { sentAt: number; at: number }[]>();
  for (const history of histories) {
    for (const event of history.events) {
      if (event.kind !== 'command' || event.script !== 'mutex-release' || !event.key) continue;
      if (event.ok && Number(event.reply) !== 2) continue;
      const runs = byKey.get(event.key) ?? [];
      runs.push({ sentAt: event.sentAt, at: event.ok ? event.at : Number.POSITIVE_INFINITY });
      byKey.set(event.key, runs);
    }
  }
  for (const runs of byKey.values()) runs.sort((a, b) => a.sentAt - b.sentAt);
  return byKey;
}

/** An acquire reply that granted the lock to the command's token. */
export function isGrant(command: CommandEvent): boolean {
  return (
    ACQUIRE_SCRIPTS.has(command.script) &&
    command.ok &&
    Array.isArray(command.reply) &&
    Number(command.reply[0]) === 1
  );
}

function isHeld(command: CommandEvent): boolean {
  return (
    ACQUIRE_SCRIPTS.has(command.script) &&
    command.ok &&
    Array.isArray(command.reply) &&
    Number(command.reply[0]) === 0
  );
}

/** The extend script the server runs now (mutex-extend.lua): PEXPIRE … GT, PTTL reply. */
const CURRENT_EXTEND_SCRIPT = { pexpire: 'gt', reply: 'pttl' } as const;

function extendScriptOf(command: CommandEvent) {
  return command.extendScript ?? CURRENT_EXTEND_SCRIPT;
}

/** Redis ran the extend and found the key still ours. */
export function extendSucceeded(command: CommandEvent): boolean {
  if (!EXTEND_SCRIPTS.has(command.script) || !command.ok) return false;
  const reply = Number(command.reply);
  return extendScriptOf(command).reply === 'pttl' ? reply > 0 : reply === 1;
}

/**
 * What the checker knows of a key's expiry: the earliest moment the server can expire it, and the
 * validity a holder may count on (a duration measured from a send time, less the drift allowed
 * over that duration, as safety.md defines validity).
 */
export interface ExpiryBound {
  readonly expiry: number;
  readonly validity: number;
}

function boundFrom(sentAt: number, durationMs: number, driftFactor: number): ExpiryBound {
  return {
    expiry: sentAt + durationMs,
    validity: sentAt + durationMs - (Math.floor(durationMs * driftFactor) + 2),
  };
}

/**
 * The bound after an extend command, given the bound before it. A PTTL reply is the server's own
 * word: the key expires at (run time + pttl), run time in [sent, reply]. A script that never
 * shortens (PEXPIRE … GT) also keeps the earlier bound, unless its reply contradicts that (then
 * the server did shorten it, and the reply wins). A plain PEXPIRE sets the expiry to run time +
 * ttl, shorter or not; one whose outcome is unknown may have run.
 */
export function boundAfterExtend(
  command: CommandEvent,
  before: ExpiryBound,
  driftFactor: number,
): ExpiryBound {
  const script = extendScriptOf(command);
  const neverShortens = script.pexpire === 'gt';
  const asked = boundFrom(command.sentAt, command.ttlMs ?? 0, driftFactor);
  const earlier = (a: ExpiryBound, b: ExpiryBound) => (b.validity < a.validity ? b : a);
  const later = (a: ExpiryBound, b: ExpiryBound) => (b.validity > a.validity ? b : a);
  if (!command.ok) return neverShortens ? before : earlier(before, asked);
  const reply = Number(command.reply);
  if (script.reply === 'pttl') {
    // Other replies (missing key, another token) changed nothing of ours; the loss is the
    // holder's to signal.
    if (!(reply > 0)) return before;
    const replied = boundFrom(command.sentAt, reply, driftFactor);
    if (neverShortens && before.expiry <= command.at + reply) return later(before, replied);
    return replied;
  }
  if (reply !== 1) return before;
  return neverShortens ? later(before, asked) : asked;
}

/** Rebuilds one held attempt's validity from its token's commands (see the module comment). */
export function rebuildValidity(
  attempt: Attempt,
  commands: readonly CommandEvent[],
  handOvers: HandOvers = new Map(),
): void {
  if (attempt.okAt === undefined) return;
  const okAt = attempt.okAt;
  const { driftFactor } = attempt.settings;
  // The latest acquire command sent before the success that Redis ran (it settled with a grant or
  // a "held" reply, possibly after the success) bounds the grant from below: a grant reply means
  // this attempt's SET … PX ttl ran after it was sent; a "held" reply means another worker's
  // release granted the lock after that command ran, writing this token for ttlMs; and a command
  // that ran after a release granted the lock finds its own token and sets PX ttl again. For grants
  // the grant message names the attempt; the recordings do not, so this is lenient when a later
  // attempt ran after a grant that named an earlier one: a stale grant used after a later attempt
  // passes this check, but not the independent overlap, token-order and fencing checks.
  const grant = commands
    .filter((command) => (isGrant(command) || isHeld(command)) && command.sentAt <= okAt)
    .sort((a, b) => a.sentAt - b.sentAt)
    .at(-1);
  if (!grant) return;
  let bound = boundFrom(grant.sentAt, attempt.settings.ttlMs, driftFactor);
  if (isHeld(grant) && CLAIM_WINDOW_ACQUIRES.has(grant.script)) {
    // Granted by a release while queued: the key held our token for the claim window from the
    // release's run. The library places that run on its clock by the server's clock, which the
    // recordings do not hold; the latest reply of a handing release sent before the success (or
    // the success itself, whichever is earlier) is the latest it can have been, so only claims
    // past what the server can have given count against it.
    let ranBy = Number.NEGATIVE_INFINITY;
    if (grant.script === 'mutex-acquire') {
      for (const run of handOvers.get(grant.key ?? '') ?? []) {
        if (run.sentAt <= okAt) ranBy = Math.max(ranBy, run.at);
      }
    }
    ranBy = ranBy === Number.NEGATIVE_INFINITY ? okAt : Math.min(ranBy, okAt);
    bound = boundFrom(ranBy, Math.min(attempt.settings.ttlMs, GRANT_CLAIM_MS), driftFactor);
  }
  attempt.grantSentAt = grant.sentAt;
  attempt.initialDeadline = bound.validity;
  let deadline = bound.validity;
  // One connection runs a worker's commands in the order it sent them.
  const later = commands
    .filter(
      (command) =>
        (EXTEND_SCRIPTS.has(command.script) || RELEASE_SCRIPTS.has(command.script)) &&
        command.sentAt > grant.sentAt,
    )
    .sort((a, b) => a.sentAt - b.sentAt);
  for (const command of later) {
    const before = deadline;
    if (EXTEND_SCRIPTS.has(command.script)) {
      bound = boundAfterExtend(command, bound, driftFactor);
      deadline = bound.validity;
      attempt.steps.push({
        kind: 'extend',
        extended: extendSucceeded(command),
        replyAt: command.at,
        before,
        after: deadline,
      });
    } else {
      // A release (the holder's, or one the locker sent for it on close) may delete the key as
      // soon as it is sent; whatever it replies, nothing of ours is left after it.
      bound = {
        expiry: Math.min(bound.expiry, command.sentAt),
        validity: Math.min(bound.validity, command.sentAt),
      };
      deadline = bound.validity;
      attempt.steps.push({
        kind: 'release',
        extended: false,
        replyAt: command.sentAt,
        before,
        after: deadline,
      });
    }
  }
  attempt.deadlineAt = deadline;
}

/** The deadline in force at time `t`: after every step whose reply arrived by `t`. */
export function deadlineAt(attempt: Attempt, t: number): number | undefined {
  if (attempt.initialDeadline === undefined) return undefined;
  let deadline = attempt.initialDeadline;
  for (const step of attempt.steps) if (step.replyAt <= t) deadline = step.after;
  return deadline;
}

/** When the holder's claim on the lock ended: release, loss, validity end or death, earliest. */
export function claimEnd(attempt: Attempt, killedAt: number | undefined): number | undefined {
  if (attempt.okAt === undefined || attempt.deadlineAt === undefined) return undefined;
  return Math.min(
    attempt.deadlineAt,
    attempt.lostAt ?? Number.POSITIVE_INFINITY,
    attempt.releaseInvokeAt ?? Number.POSITIVE_INFINITY,
    killedAt ?? Number.POSITIVE_INFINITY,
  );
}

function rebuildWorker(
  history: WorkerHistory,
  faults: readonly FaultEvent[],
  handOvers: HandOvers,
): { attempts: Attempt[]; timeline: WorkerTimeline } | undefined {
  const start = history.events.find((event) => event.kind === 'start');
  if (start?.kind !== 'start') return undefined;
  const settings = start.settings;
  const attempts = new Map<string, Attempt>();
  const commandsByToken = new Map<string, CommandEvent[]>();
  const frozen: { at: number; until: number }[] = [];
  const lag: Extract<HistoryEvent, { kind: 'lag' }>[] = [];
  let stoppedAt: number | undefined;

  for (const event of history.events) {
    switch (event.kind) {
      case 'acquire-invoke':
        attempts.set(event.attempt, {
          worker: history.worker,
          attempt: event.attempt,
          ...(event.lock === undefined ? {} : { lock: event.lock }),
          settings,
          capacity: start.capacity ?? 1,
          weight: 1,
          invokeAt: event.at,
          extends: [],
          checks: [],
          steps: [],
          claims: [],
        });
        break;
      case 'command': {
        const list = commandsByToken.get(event.token) ?? [];
        list.push(event);
        commandsByToken.set(event.token, list);
        break;
      }
      case 'lag':
        lag.push(event);
        break;
      case 'block':
        frozen.push({ at: event.at, until: event.until });
        break;
      case 'stop':
        stoppedAt = event.at;
        break;
      case 'start':
      case 'locker-close':
      case 'warning':
        break;
      default: {
        const attempt = attempts.get(event.attempt);
        if (attempt) applyAttemptEvent(attempt, event);
      }
    }
  }

  for (const fault of faults) {
    if (fault.kind === 'worker-freeze' && fault.worker === history.worker) {
      frozen.push({ at: fault.at, until: fault.until });
    }
  }
  const kill = faults.find(
    (fault) => fault.kind === 'worker-kill' && fault.worker === history.worker,
  );

  const grantedTokens = new Set<string>();
  for (const attempt of attempts.values()) {
    if (attempt.token === undefined) continue;
    grantedTokens.add(attempt.token);
    rebuildValidity(attempt, commandsByToken.get(attempt.token) ?? [], handOvers);
  }
  let abandonedGrants = 0;
  for (const [token, commands] of commandsByToken) {
    const grants = commands.filter(isGrant).length;
    abandonedGrants += grantedTokens.has(token) ? Math.max(0, grants - 1) : grants;
  }

  return {
    attempts: [...attempts.values()],
    timeline: {
      worker: history.worker,
      settings,
      startedAt: start.at,
      stoppedAt,
      frozen: frozen.sort((a, b) => a.at - b.at),
      killedAt: kill?.at,
      lag,
      abandonedGrants,
    },
  };
}

function applyAttemptEvent(
  attempt: Attempt,
  event: Exclude<
    HistoryEvent,
    {
      kind:
        | 'start'
        | 'command'
        | 'lag'
        | 'block'
        | 'stop'
        | 'acquire-invoke'
        | 'locker-close'
        | 'warning';
    }
  >,
): void {
  switch (event.kind) {
    case 'acquire-ok':
      attempt.okAt = event.at;
      attempt.token = event.token;
      attempt.fence = event.fence;
      attempt.weight = event.weight ?? 1;
      if (event.owner !== undefined) attempt.owner = event.owner;
      attempt.claims.push({ at: event.at, until: event.at + event.remainingMs, what: 'acquire' });
      break;
    case 'acquire-fail':
      attempt.failAt = event.at;
      attempt.failCode = event.code;
      break;
    case 'lost':
      attempt.lostAt = event.at;
      attempt.lostReason = event.reason;
      break;
    case 'extend-invoke':
      attempt.extends.push({ invokeAt: event.at });
      break;
    case 'extend-ok':
    case 'extend-fail': {
      const open = attempt.extends.findLast(
        (extend) => extend.okAt === undefined && extend.failAt === undefined,
      );
      if (open && event.kind === 'extend-ok') open.okAt = event.at;
      if (open && event.kind === 'extend-fail') open.failAt = event.at;
      break;
    }
    case 'release-invoke':
      attempt.releaseInvokeAt = event.at;
      break;
    case 'release-ok':
      attempt.releaseAt = event.at;
      attempt.releaseOutcome = event.outcome;
      break;
    case 'release-fail':
      attempt.releaseAt = event.at;
      attempt.releaseFailed = true;
      break;
    case 'check':
      attempt.checks.push({ at: event.at, held: event.held });
      if (event.held && event.remainingMs !== undefined) {
        attempt.claims.push({ at: event.at, until: event.at + event.remainingMs, what: 'check' });
      }
      break;
    case 'withlock-settled':
      attempt.withLock = {
        at: event.at,
        ok: event.ok,
        ...(event.code === undefined ? {} : { code: event.code }),
        ...(event.reason === undefined ? {} : { reason: event.reason }),
      };
      break;
  }
}

export function reconstruct(
  histories: readonly WorkerHistory[],
  faults: readonly FaultEvent[],
): Reconstruction {
  const attempts: Attempt[] = [];
  const workers = new Map<string, WorkerTimeline>();
  const handOvers = handOversByKey(histories);
  for (const history of histories) {
    const rebuilt = rebuildWorker(history, faults, handOvers);
    if (!rebuilt) continue;
    attempts.push(...rebuilt.attempts);
    workers.set(history.worker, rebuilt.timeline);
  }
  attempts.sort((a, b) => a.invokeAt - b.invokeAt);
  return { attempts, workers };
}

/** Ms of [from, to] during which the worker was frozen. */
export function frozenWithin(
  timeline: WorkerTimeline | undefined,
  from: number,
  to: number,
): number {
  let total = 0;
  for (const interval of timeline?.frozen ?? []) {
    total += Math.max(0, Math.min(to, interval.until) - Math.max(from, interval.at));
  }
  return total;
}

/** The end of the freeze that covers `t`, or `t` itself when the worker was running. */
export function thawedAt(timeline: WorkerTimeline | undefined, t: number): number {
  let result = t;
  for (const interval of timeline?.frozen ?? []) {
    if (interval.at <= result && result < interval.until) result = interval.until;
  }
  return result;
}
