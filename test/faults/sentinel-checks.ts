/**
 * Figures of the Sentinel rows (S1, S1w, S2), over a run's logs, rebuilt attempts and the
 * checker's result: those of the Cluster's master kills (cluster-checks.ts), what the `replicas`
 * option's WAITs reported, and the steps of a planned failover with what it threw away. Pure
 * functions; the violations are the checker's (these add none).
 */
import type { RunLogs } from './checker.js';
import {
  acquisitionsBetween,
  exclusionFigures,
  gapsBetweenHolders,
  longestGapAround,
  masterKills,
} from './cluster-checks.js';
import type { HistoryEvent } from './events.js';
import type { ScenarioVerdict, VerifyInput } from './scenario.js';
import type { PlannedFailover, PrimaryKill } from './sentinel-faults.js';

type CommandEvent = Extract<HistoryEvent, { kind: 'command' }>;

/** The code of a shortfall the library reports (LockReplicationError). */
const REPLICATION_CODE = 'ERR_LOCK_REPLICATION';

const ms = (value: number) => Math.round(value);

function commands(logs: RunLogs): CommandEvent[] {
  return logs.histories.flatMap((history) =>
    history.events.filter((event): event is CommandEvent => event.kind === 'command'),
  );
}

function replicasAsked(logs: RunLogs): number {
  const asked = logs.histories.flatMap((history) =>
    history.events.flatMap((event) =>
      event.kind === 'start' ? [event.settings.replicas ?? 0] : [],
    ),
  );
  return Math.max(0, ...asked);
}

/** Each script's WAITs that reported fewer replicas than asked, as `script n`. */
function shortWaits(waited: readonly CommandEvent[], required: number): string {
  const short = new Map<string, number>();
  for (const command of waited) {
    if ((command.acknowledged ?? 0) >= required) continue;
    short.set(command.script, (short.get(command.script) ?? 0) + 1);
  }
  return [...short].map(([script, n]) => `${script} ${n}`).join(', ') || 'none';
}

function failuresWith(logs: RunLogs, kind: 'acquire-fail' | 'extend-fail', code: string): number {
  return logs.histories
    .flatMap((history) => history.events)
    .filter((event) => event.kind === kind && event.code === code).length;
}

/**
 * What the `replicas` option did: WAITs sent and those short of the replicas asked, acquires and
 * extends that failed with LockReplicationError, and, per kill, the WAITs still waiting when it
 * struck (the case the option cannot close).
 */
function replicationFigures(logs: RunLogs, kills: readonly PrimaryKill[]) {
  const required = replicasAsked(logs);
  if (required === 0) return {};
  const waited = commands(logs).filter((command) => command.acknowledged !== undefined);
  const inFlight = kills.map(
    (kill) =>
      commands(logs).filter(
        (command) =>
          /-(acquire|extend)$/.test(command.script) &&
          command.sentAt <= kill.from &&
          command.at >= kill.from,
      ).length,
  );
  return {
    'WAITs answered': waited.length,
    'WAITs short of the replicas asked': shortWaits(waited, required),
    'acquires that ended in LockReplicationError': failuresWith(
      logs,
      'acquire-fail',
      REPLICATION_CODE,
    ),
    'extends refused (LockReplicationError)': failuresWith(logs, 'extend-fail', REPLICATION_CODE),
    ...(kills.length > 0 && { 'acquires or extends in flight at each kill': inFlight.join(', ') }),
  };
}

/** Ms from `at` to the next grant (`none` when no grant followed). */
function firstGrantAfter({ rebuilt }: VerifyInput, at: number): string {
  const next = Math.min(
    ...rebuilt.attempts.flatMap((attempt) =>
      attempt.okAt !== undefined && attempt.okAt > at ? [attempt.okAt] : [],
    ),
  );
  return Number.isFinite(next) ? String(ms(next - at)) : 'none';
}

/**
 * S1, S1w: the Cluster's figures for a master kill (unavailability around each kill, time to
 * promotion, acquisitions the promoted replica never got), whether an acquisition came between
 * the links' cut and the kill, and what the `replicas` option did.
 */
export function primaryKills(input: VerifyInput): ScenarioVerdict {
  const kills = (input.kept.get('kills') as PrimaryKill[] | undefined) ?? [];
  const { figures } = masterKills(input);
  const { acquisitions, ...rest } = figures;
  return {
    violations: [],
    figures: {
      ...rest,
      'first grant after each kill ms':
        kills.map((kill) => firstGrantAfter(input, kill.from)).join(', ') || '–',
      ...(kills.some((kill) => kill.unreplicated) && {
        'an acquisition between the cut and each kill': kills
          .map((kill) => (kill.acquiredWhileCut ? 'yes' : 'no'))
          .join(', '),
      }),
      ...replicationFigures(input.logs, kills),
      ...(acquisitions === undefined ? {} : { acquisitions }),
    },
  };
}

/** How long (ms of server clock) between two fencing tokens read on the servers; `?` if missing. */
function tokenSpanMs(from: number | null, to: number | null): string {
  return from === null || to === null ? '?' : String(ms(Math.max(0, to - from) / 1_000));
}

/**
 * S2: per planned failover, how long each step took from SENTINEL FAILOVER (the replica taking
 * writes, every Sentinel naming it, the old primary turned replica), the acquisitions the promoted
 * replica lacked, how long after the promotion the old primary went on granting (by the server
 * clock its tokens are read from; those grants are thrown away at its demotion), the longest gap
 * between holders around it, and whether holders overlapped.
 */
export function plannedFailovers({ logs, rebuilt, check, kept }: VerifyInput): ScenarioVerdict {
  // Before the promotion only the old primary granted: its tokens above the promoted replica's
  // last one are the acquisitions the replica lacked.
  const lacked = (failover: PlannedFailover) =>
    failover.promotedFence === null || failover.oldPrimaryFence === null
      ? '?'
      : String(
          acquisitionsBetween(
            rebuilt,
            failover.promotedFence,
            failover.oldPrimaryFence,
            failover.promotedAt,
          ),
        );
  const failovers = (kept.get('failovers') as PlannedFailover[] | undefined) ?? [];
  const gaps = gapsBetweenHolders(rebuilt);
  const after = (pick: (failover: PlannedFailover) => number) =>
    failovers.map((failover) => ms(pick(failover) - failover.from)).join(', ') || '–';
  const around = failovers.map((failover) => longestGapAround(gaps, failover));
  return {
    violations: [],
    figures: {
      ...exclusionFigures(check),
      failovers: failovers.length,
      'replica takes writes ms': after((failover) => failover.promotedAt),
      'every Sentinel names it ms': after((failover) => failover.switchedAt),
      'old primary turned replica ms': after((failover) => failover.to),
      'acquisitions the promoted replica lacked': failovers.map(lacked).join(', ') || '–',
      'old primary granted for ms after the promotion (thrown away)':
        failovers
          .map((failover) =>
            tokenSpanMs(failover.oldPrimaryFence, failover.oldPrimaryFenceAtDemotion),
          )
          .join(', ') || '–',
      'longest gap between holders around each failover ms': around.map(ms).join(', ') || '–',
      ...replicationFigures(logs, []),
      acquisitions: check.operations.acquired,
    },
  };
}
