/**
 * The checks of the issue 8 rows (scenarios.ts), beyond the common properties of checker.ts. Pure
 * functions over a run's rebuilt attempts, its histories and what the scenario kept; each returns
 * its violations and the figures the report prints.
 */
import type { Attempt, Reconstruction } from './attempts.js';
import type { Violation } from './checker.js';
import type { HistoryEvent } from './events.js';
import type { ScenarioVerdict, VerifyInput } from './scenario.js';
import { summarize } from './stats.js';

function round(value: number | null | undefined): number | string {
  return value === null || value === undefined ? '–' : Math.round(value);
}

/** A worker that could not run or reach Redis from `from` to `to` (stopped, cut off). */
export interface Unavailable {
  readonly worker: string;
  readonly from: number;
  readonly to: number;
}

/**
 * Acquire attempts of workers that were alive at `t`, and not out (`unavailable`) then or within
 * `boundMs` after, and had waited for at least `minMs` then.
 */
function liveWaitersAt(
  rebuilt: Reconstruction,
  t: number,
  minMs: number,
  unavailable: readonly Unavailable[] = [],
  boundMs = 0,
): Attempt[] {
  return rebuilt.attempts.filter((attempt) => {
    const settledAt = attempt.okAt ?? attempt.failAt ?? Number.POSITIVE_INFINITY;
    const killedAt = rebuilt.workers.get(attempt.worker)?.killedAt ?? Number.POSITIVE_INFINITY;
    const out = unavailable.some(
      (span) => span.worker === attempt.worker && span.from <= t + boundMs && span.to >= t,
    );
    return attempt.invokeAt <= t - minMs && settledAt > t && killedAt > t && !out;
  });
}

/**
 * Item 3: after a process with queued waiters died, every release while a live worker waited must
 * hand the lock over within `boundMs` (the next success of another attempt). A grant to a dead
 * waiter would hold the lock for a whole ttl. Issue 11, item 3: the same while a waiter is
 * stopped or cut off (`unavailable`: not a live waiter then, and its own success does not count).
 */
export function handovers(
  rebuilt: Reconstruction,
  windows: readonly { from: number; to: number }[],
  boundMs: number,
  unavailable: readonly Unavailable[] = [],
  what = 'after the kills',
): ScenarioVerdict {
  const violations: Violation[] = [];
  const times: number[] = [];
  for (const release of rebuilt.attempts) {
    const at = release.releaseInvokeAt;
    if (at === undefined || !windows.some((window) => at >= window.from && at <= window.to)) {
      continue;
    }
    const waiting = liveWaitersAt(rebuilt, at, 20, unavailable, boundMs).filter(
      (other) => other !== release,
    );
    if (waiting.length === 0) continue;
    const next = rebuilt.attempts
      .filter(
        (other) =>
          other !== release &&
          other.okAt !== undefined &&
          other.okAt > at &&
          !unavailable.some(
            (span) =>
              span.worker === other.worker && span.from <= (other.okAt as number) && span.to >= at,
          ),
      )
      .sort((a, b) => (a.okAt as number) - (b.okAt as number))[0];
    const ms = next?.okAt === undefined ? Number.POSITIVE_INFINITY : next.okAt - at;
    times.push(ms);
    if (ms > boundMs) {
      violations.push({
        property: 'slow-handover',
        at,
        worker: release.worker,
        attempt: release.attempt,
        detail: `release by ${release.attempt} with ${waiting.length} live waiters: next holder ${Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : 'never'} later (bound ${boundMs} ms)`,
      });
    }
  }
  const summary = summarize(times.filter(Number.isFinite));
  return {
    violations,
    figures: {
      [`hand-overs to live waiters ${what}`]: times.length,
      'hand-over p50 / max ms': `${round(summary.p50)} / ${round(Math.max(0, ...times))}`,
      'hand-over bound ms': boundMs,
    },
  };
}

export interface KeySample {
  readonly at: number;
  readonly token: string | null;
}

/**
 * Item 5: tokens the server's lock key held (sampled by the orchestrator after each pause) that no
 * attempt ever acquired with are abandoned; none may hold the lock longer than `boundMs`.
 */
export function abandonedHolds(
  rebuilt: Reconstruction,
  samples: readonly KeySample[],
  pauseEnds: readonly number[],
  boundMs: number,
): ScenarioVerdict {
  const acquired = new Set(
    rebuilt.attempts.flatMap((attempt) => (attempt.token ? [attempt.token] : [])),
  );
  const spans = new Map<string, { from: number; to: number }>();
  for (const sample of samples) {
    if (!sample.token || acquired.has(sample.token)) continue;
    const span = spans.get(sample.token);
    if (span) span.to = sample.at;
    else spans.set(sample.token, { from: sample.at, to: sample.at });
  }
  const violations: Violation[] = [];
  let longest = 0;
  for (const [token, span] of spans) {
    const ms = span.to - span.from;
    longest = Math.max(longest, ms);
    if (ms > boundMs) {
      violations.push({
        property: 'abandoned-hold',
        at: span.from,
        detail: `token ${token.slice(0, 8)}…, acquired by no attempt, held the lock key for ${ms.toFixed(0)} ms (bound ${boundMs} ms)`,
      });
    }
  }
  const grants = rebuilt.attempts
    .map((attempt) => attempt.okAt)
    .filter((at): at is number => at !== undefined)
    .sort((a, b) => a - b);
  const nextGrant = pauseEnds.map((end) => {
    const next = grants.find((at) => at > end);
    return next === undefined ? '–' : String(Math.round(next - end));
  });
  return {
    violations,
    figures: {
      'abandoned tokens seen in the lock key': spans.size,
      'longest abandoned hold ms': Math.round(longest),
      'abandoned-hold bound ms': boundMs,
      'next grant after each pause ms': nextGrant.join(', ') || '–',
      'key samples': samples.length,
    },
  };
}

/** Item 2: every acquire refused with `code` before any lock command, and nothing written. */
export function refusals(
  input: VerifyInput,
  code: string,
  keysWritten: readonly number[],
): ScenarioVerdict {
  const { rebuilt } = input;
  const violations: Violation[] = [];
  const lockCommands = input.logs.histories.flatMap((history) =>
    history.events.filter((event) => event.kind === 'command' && event.script.startsWith('mutex-')),
  );
  if (lockCommands.length > 0) {
    violations.push({
      property: 'not-refused',
      at: lockCommands[0]?.at ?? 0,
      detail: `${lockCommands.length} lock commands were sent to the cluster-enabled server`,
    });
  }
  let refused = 0;
  for (const attempt of rebuilt.attempts) {
    if (attempt.failCode === code) {
      refused++;
      continue;
    }
    violations.push({
      property: 'not-refused',
      at: attempt.okAt ?? attempt.failAt ?? attempt.invokeAt,
      worker: attempt.worker,
      attempt: attempt.attempt,
      detail:
        attempt.okAt !== undefined
          ? 'acquired on a cluster-enabled server'
          : `ended with ${attempt.failCode ?? 'nothing'} instead of ${code}`,
    });
  }
  const keys = Math.max(0, ...keysWritten);
  if (keys > 0) {
    violations.push({
      property: 'not-refused',
      at: 0,
      detail: `${keys} keys were written on the cluster-enabled server`,
    });
  }
  return {
    violations,
    figures: {
      'refused / attempts': `${refused} / ${rebuilt.attempts.filter((a) => a.okAt !== undefined || a.failAt !== undefined).length}`,
      'lock commands sent': lockCommands.length,
      'keys written': keys,
    },
  };
}

/**
 * Item 8: a `locker.close()` while a withLock callback runs must abort that callback's signal with
 * reason 'closed' before the lock is released (before the release command for its token is sent)
 * and before another attempt holds, and withLock must reject with ERR_LOCK_LOST, reason 'closed'.
 */
export function closesDuringCallbacks(input: VerifyInput): ScenarioVerdict {
  const { rebuilt, logs } = input;
  const violations: Violation[] = [];
  let closes = 0;
  let inCallback = 0;
  let signalled = 0;
  let rejected = 0;
  for (const history of logs.histories) {
    const releases = history.events.filter(
      (event): event is Extract<HistoryEvent, { kind: 'command' }> =>
        event.kind === 'command' && event.script === 'mutex-release',
    );
    for (const close of history.events) {
      if (close.kind !== 'locker-close') continue;
      closes++;
      const held = rebuilt.attempts.find(
        (attempt) =>
          attempt.worker === history.worker &&
          attempt.okAt !== undefined &&
          attempt.okAt <= close.at &&
          (attempt.releaseInvokeAt ?? Number.POSITIVE_INFINITY) > close.at &&
          (attempt.lostAt ?? Number.POSITIVE_INFINITY) >= close.at,
      );
      if (!held) continue;
      inCallback++;
      const problems: string[] = [];
      const releaseSent = releases.find(
        (command) => command.token === held.token && command.sentAt >= close.at,
      )?.sentAt;
      const nextGrant = rebuilt.attempts
        .filter((other) => other !== held && (other.okAt ?? 0) > close.at)
        .map((other) => other.okAt as number)
        .sort((a, b) => a - b)[0];
      if (held.lostAt === undefined) problems.push('the signal never aborted');
      else {
        if (held.lostReason !== 'closed') problems.push(`lost with reason '${held.lostReason}'`);
        if (releaseSent !== undefined && held.lostAt > releaseSent) {
          problems.push(`signal ${(held.lostAt - releaseSent).toFixed(1)} ms after the release`);
        }
        if (nextGrant !== undefined && held.lostAt >= nextGrant) {
          problems.push(`signal ${(held.lostAt - nextGrant).toFixed(1)} ms after the next grant`);
        }
      }
      const settled = held.withLock;
      if (!settled) problems.push('withLock never settled');
      else if (settled.ok || settled.code !== 'ERR_LOCK_LOST' || settled.reason !== 'closed') {
        problems.push(
          settled.ok
            ? 'withLock resolved'
            : `withLock rejected with ${settled.code} (${settled.reason ?? 'no reason'})`,
        );
      }
      if (held.lostAt !== undefined && held.lostReason === 'closed') signalled++;
      if (settled && !settled.ok && settled.code === 'ERR_LOCK_LOST') rejected++;
      if (problems.length > 0) {
        violations.push({
          property: 'close-not-signalled',
          at: close.at,
          worker: history.worker,
          attempt: held.attempt,
          detail: `locker.close() during the callback of ${held.attempt}: ${problems.join('; ')}`,
        });
      }
    }
  }
  if (inCallback === 0) {
    violations.push({
      property: 'close-not-signalled',
      at: logs.endedAt,
      detail: `none of ${closes} closes found a callback running`,
    });
  }
  return {
    violations,
    figures: {
      'closes during a callback / closes': `${inCallback} / ${closes}`,
      "signals aborted with 'closed'": signalled,
      'withLock rejected ERR_LOCK_LOST': rejected,
    },
  };
}

/**
 * Item 7: each worker saw the eviction warning, and no lock operation failed for a reason other
 * than waiting too long (a reply that did not parse, a backend error).
 */
export function evictionOutcome(input: VerifyInput, allowed: readonly string[]): ScenarioVerdict {
  const violations: Violation[] = [];
  let warned = 0;
  for (const history of input.logs.histories) {
    // The eviction warning itself: every locker also warns that this server keeps no AOF.
    const warning = history.events.find(
      (event) => event.kind === 'warning' && /"code":"EVICTABLE_/.test(event.message),
    );
    if (warning) warned++;
    else {
      violations.push({
        property: 'missing-warning',
        at: input.logs.endedAt,
        worker: history.worker,
        detail: `${history.worker} saw no latchkey:warning although maxmemory-policy may evict the fencing counter`,
      });
    }
    for (const event of history.events) {
      const code =
        event.kind === 'acquire-fail' ||
        event.kind === 'extend-fail' ||
        event.kind === 'release-fail'
          ? event.code
          : undefined;
      if (code === undefined || allowed.includes(code)) continue;
      // Acquires still waiting when the orchestrator stopped the workers are aborted.
      if (code === 'AbortError' && event.at >= input.logs.endedAt) continue;
      violations.push({
        property: 'unexplained-error',
        at: event.at,
        worker: history.worker,
        detail: `${event.kind} with ${code}${event.kind === 'acquire-fail' ? `: ${event.message}` : ''}`,
      });
    }
  }
  const counterLosses = input.kept.get('counterLosses');
  return {
    violations,
    figures: {
      'workers warned / workers': `${warned} / ${input.logs.histories.length}`,
      'fencing counter evicted': typeof counterLosses === 'number' ? counterLosses : 0,
      'lock key evicted': Number(input.kept.get('lockKeyLosses') ?? 0),
    },
  };
}

/**
 * Item 1, figures only (the checker's held-after-validity judges the claims): how many short
 * extends Redis ran, and the smallest PTTL it replied to them; below the key's remaining time it
 * would mean the key was shortened.
 */
export function shortExtends(input: VerifyInput, ttlMs: number): ScenarioVerdict {
  const replies: number[] = [];
  let claims = 0;
  for (const history of input.logs.histories) {
    for (const event of history.events) {
      if (event.kind === 'check' && event.held && event.remainingMs !== undefined) claims++;
      if (event.kind !== 'command' || event.script !== 'mutex-extend' || !event.ok) continue;
      if (event.ttlMs === ttlMs && Number(event.reply) > 0) replies.push(Number(event.reply));
    }
  }
  return {
    violations: [],
    figures: {
      [`extend(${ttlMs}) run by Redis`]: replies.length,
      'smallest PTTL replied ms': replies.length > 0 ? Math.min(...replies) : '–',
      'claims checked against the server': claims,
    },
  };
}
