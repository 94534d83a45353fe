/**
 * Rebuilds every acquire attempt of a run from the workers' histories, and each held lock's
 * validity from the recorded Redis commands alone: validity starts at the send time of the acquire
 * command that won, minus drift, and moves only with an extend reply that arrived before the
 * validity ran out, to that extend's send time plus the PTTL Redis replied (the expiry the server
 * has: an extension never shortens the key), minus drift. Pure functions; the checker builds its properties on top.
 */
import type { FaultEvent, HistoryEvent, WorkerLockSettings } from './events.js';
import { driftMs } from './worker-config.js';

type CommandEvent = Extract<HistoryEvent, { kind: 'command' }>;

export interface WorkerHistory {
  readonly worker: string;
  readonly events: readonly HistoryEvent[];
}

/** A step of a held lock's validity: an extend reply that moved (or could not move) the deadline. */
export interface ValidityStep {
  readonly replyAt: number;
  readonly before: number;
  readonly after: number;
}

export interface Attempt {
  readonly worker: string;
  readonly attempt: string;
  readonly settings: WorkerLockSettings;
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
  /** Final validity deadline after every extension. */
  deadlineAt?: number;
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

function isGrant(command: CommandEvent): boolean {
  return (
    command.script === 'mutex-acquire' &&
    command.ok &&
    Array.isArray(command.reply) &&
    Number(command.reply[0]) === 1
  );
}

function isHeld(command: CommandEvent): boolean {
  return (
    command.script === 'mutex-acquire' &&
    command.ok &&
    Array.isArray(command.reply) &&
    Number(command.reply[0]) === 0
  );
}

/** The key's PTTL after a successful extension (mutex-extend.lua replies it), else undefined. */
function extendedPttl(command: CommandEvent): number | undefined {
  if (command.script !== 'mutex-extend' || !command.ok) return undefined;
  const pttl = Number(command.reply);
  return Number.isInteger(pttl) && pttl > 0 ? pttl : undefined;
}

/** Applies the validity rule to one held attempt, given its token's commands. */
export function rebuildValidity(attempt: Attempt, commands: readonly CommandEvent[]): void {
  if (attempt.okAt === undefined) return;
  const okAt = attempt.okAt;
  const drift = driftMs(attempt.settings);
  // The latest acquire reply before the success decides how it was granted: a grant reply means
  // this attempt took the lock itself (validity from its send time for ttlMs); a "held" reply means
  // another worker's release granted it afterwards, writing this token into the lock key for
  // ttlMs after Redis ran that attempt. (An earlier grant reply that arrived too late was given
  // back by the library and is superseded.) For grants the grant message names the attempt; the
  // recordings do not, so anchoring on the latest "held" reply is lenient: a stale grant used after
  // a later attempt passes this check, but not the independent overlap, token-order and fencing
  // checks.
  const grant = commands
    .filter((command) => (isGrant(command) || isHeld(command)) && command.at <= okAt)
    .at(-1);
  if (!grant) return;
  let deadline = grant.sentAt + attempt.settings.ttlMs - drift;
  attempt.grantSentAt = grant.sentAt;
  attempt.initialDeadline = deadline;
  const extensions = commands
    .filter((command) => command.script === 'mutex-extend' && command.at > grant.at)
    .sort((a, b) => a.at - b.at);
  for (const command of extensions) {
    const before = deadline;
    const pttl = extendedPttl(command);
    if (pttl !== undefined && command.at < deadline) {
      const extendDrift = Math.floor(pttl * attempt.settings.driftFactor) + 2;
      deadline = Math.max(deadline, command.sentAt + pttl - extendDrift);
    }
    attempt.steps.push({ replyAt: command.at, before, after: deadline });
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
          settings,
          invokeAt: event.at,
          extends: [],
          checks: [],
          steps: [],
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
    rebuildValidity(attempt, commandsByToken.get(attempt.token) ?? []);
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
    { kind: 'start' | 'command' | 'lag' | 'block' | 'stop' | 'acquire-invoke' }
  >,
): void {
  switch (event.kind) {
    case 'acquire-ok':
      attempt.okAt = event.at;
      attempt.token = event.token;
      attempt.fence = event.fence;
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
      break;
  }
}

export function reconstruct(
  histories: readonly WorkerHistory[],
  faults: readonly FaultEvent[],
): Reconstruction {
  const attempts: Attempt[] = [];
  const workers = new Map<string, WorkerTimeline>();
  for (const history of histories) {
    const rebuilt = rebuildWorker(history, faults);
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
