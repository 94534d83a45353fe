import { describe, expect, it } from 'vitest';
import type { WorkerHistory } from './attempts.js';
import { checkRun, DEFAULT_CHECK_OPTIONS, type PropertyId, type RunLogs } from './checker.js';
import type {
  FaultEvent,
  HistoryEvent,
  ResourceEvent,
  ResourceMode,
  ResourceOp,
  WorkerLockSettings,
} from './events.js';

/** ttl 1000, drift floor(1000 × 0.01) + 2 = 12: a grant sent at t is valid until t + 988. */
const SETTINGS: WorkerLockSettings = {
  ttlMs: 1_000,
  refreshMs: 300,
  commandTimeoutMs: 500,
  waitMs: 3_000,
  driftFactor: 0.01,
};

type ExtendScript = NonNullable<Extract<HistoryEvent, { kind: 'command' }>['extendScript']>;
/** The extend script of issue 8 item 1: PEXPIRE … GT, replying with the key's PTTL. */
const EXTEND_GT: ExtendScript = { pexpire: 'gt', reply: 'pttl' };
/** The extend script before it: a plain PEXPIRE, replying 1. */
const EXTEND_PLAIN: ExtendScript = { pexpire: 'plain', reply: 'flag' };

/** An extend reply that found the key as a refresh leaves it: PTTL = ttl. */
const EXTENDED = SETTINGS.ttlMs;

/** Builds one worker's history in time order, the way worker.ts writes it. */
class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  #attempts = 0;

  constructor(
    readonly worker: string,
    /** A lock several may hold: a semaphore's limit, or the read-write lock's capacity. */
    readonly shared?: { readonly lockKind: 'semaphore' | 'read-write'; readonly capacity: number },
  ) {
    this.events.push({
      kind: 'start',
      at: 0,
      worker,
      pid: 1,
      client: 'test',
      settings: SETTINGS,
      ...(shared ?? {}),
    });
  }

  /** An acquire invoked at `invokeAt` whose granting command was sent at `sentAt`. */
  acquire(
    invokeAt: number,
    sentAt: number,
    okAt: number,
    fence: number,
    {
      withCommand = true,
      weight = 1,
      owner,
      lock,
    }: { withCommand?: boolean; weight?: number; owner?: string; lock?: string } = {},
  ): { attempt: string; token: string } {
    const attempt = `${this.worker}:${++this.#attempts}`;
    const token = `${this.worker}-token-${this.#attempts}`;
    this.events.push({
      kind: 'acquire-invoke',
      at: invokeAt,
      attempt,
      ...(lock === undefined ? {} : { lock }),
    });
    if (withCommand) {
      this.events.push({
        kind: 'command',
        sentAt,
        at: okAt,
        script: this.shared ? 'semaphore-acquire' : 'mutex-acquire',
        token,
        ...(lock === undefined ? {} : { key: `{${lock}}` }),
        ttlMs: SETTINGS.ttlMs,
        ok: true,
        reply: [1, fence],
      });
    }
    this.events.push({
      kind: 'acquire-ok',
      at: okAt,
      attempt,
      token,
      fence,
      remainingMs: 0,
      ...(weight === 1 ? {} : { weight }),
      ...(owner === undefined ? {} : { owner }),
    });
    return { attempt, token };
  }

  failedAcquire(invokeAt: number, failAt: number): string {
    const attempt = `${this.worker}:${++this.#attempts}`;
    this.events.push({ kind: 'acquire-invoke', at: invokeAt, attempt });
    this.events.push({
      kind: 'acquire-fail',
      at: failAt,
      attempt,
      code: 'ERR_LOCK_TIMEOUT',
      message: '',
    });
    return attempt;
  }

  /**
   * A multi-lock acquisition that asks for `lock` at `askAt` (told it is held), is granted it at
   * `grantAt` (if given), and then times out on a later name at `failAt`: no success, so only the
   * recorded commands tell that the name was asked for and taken.
   */
  askedThenTimedOut(
    lock: string,
    { askAt, grantAt, failAt }: { askAt: number; grantAt?: number; failAt: number },
  ): string {
    const attempt = this.failedAcquire(askAt - 1, failAt);
    const command = (sentAt: number, reply: unknown) =>
      this.events.push({
        kind: 'command',
        sentAt,
        at: sentAt + 1,
        script: 'mutex-acquire',
        token: `${attempt}-token`,
        key: `{${lock}}`,
        ttlMs: SETTINGS.ttlMs,
        ok: true,
        reply,
      });
    command(askAt, [0, 800]);
    if (grantAt !== undefined) command(grantAt - 1, [1, 99]);
    return attempt;
  }

  /** An extend command (auto or manual) and, when manual, its invoke/ok records. */
  extend(
    held: { attempt: string; token: string },
    sentAt: number,
    replyAt: number,
    reply: number,
    {
      manual = false,
      ttlMs = SETTINGS.ttlMs,
      script,
    }: { manual?: boolean; ttlMs?: number; script?: ExtendScript } = {},
  ): this {
    if (manual) this.events.push({ kind: 'extend-invoke', at: sentAt, attempt: held.attempt });
    this.events.push({
      kind: 'command',
      sentAt,
      at: replyAt,
      script: 'mutex-extend',
      token: held.token,
      ttlMs,
      ok: true,
      reply,
      ...(script ? { extendScript: script } : {}),
    });
    if (manual) this.events.push({ kind: 'extend-ok', at: replyAt, attempt: held.attempt });
    return this;
  }

  lost(attempt: string, at: number, reason = 'expired'): this {
    this.events.push({ kind: 'lost', at, attempt, reason });
    return this;
  }

  check(attempt: string, at: number, held: boolean, remainingMs?: number): this {
    this.events.push({
      kind: 'check',
      at,
      attempt,
      held,
      ...(remainingMs === undefined ? {} : { remainingMs }),
    });
    return this;
  }

  /** A release command for `token` that the worker did not invoke (the locker's close sent it). */
  releaseCommand(token: string, sentAt: number, replyAt: number, reply = 1): this {
    this.events.push({
      kind: 'command',
      sentAt,
      at: replyAt,
      script: 'mutex-release',
      token,
      ok: true,
      reply,
    });
    return this;
  }

  release(attempt: string, at: number, doneAt = at + 1, outcome = 'released'): this {
    this.events.push({ kind: 'release-invoke', at, attempt });
    this.events.push({ kind: 'release-ok', at: doneAt, attempt, outcome });
    return this;
  }

  /**
   * A queued acquire granted by another worker's release (see handOver): its attempt, sent at
   * `heldSentAt`, was told the lock is held; the grant's message made it a holder at `okAt`, which
   * claimed `remainingMs` of validity.
   */
  grantedWhileQueued(
    invokeAt: number,
    heldSentAt: number,
    okAt: number,
    fence: number,
    remainingMs: number,
  ): { attempt: string; token: string } {
    const attempt = `${this.worker}:${++this.#attempts}`;
    const token = `${this.worker}-token-${this.#attempts}`;
    this.events.push({ kind: 'acquire-invoke', at: invokeAt, attempt });
    this.events.push({
      kind: 'command',
      sentAt: heldSentAt,
      at: heldSentAt + 1,
      script: 'mutex-acquire',
      token,
      key: '{lock}',
      ttlMs: SETTINGS.ttlMs,
      ok: true,
      reply: [0, 900, 0, 1_800_000_000_000_000],
    });
    this.events.push({ kind: 'acquire-ok', at: okAt, attempt, token, fence, remainingMs });
    return { attempt, token };
  }

  /** A holder's release, sent at `sentAt`, that Redis answered at `at` with a hand-over (2). */
  handOver(held: { attempt: string; token: string }, sentAt: number, at: number): this {
    this.events.push({ kind: 'release-invoke', at: sentAt, attempt: held.attempt });
    this.events.push({
      kind: 'command',
      sentAt,
      at,
      script: 'mutex-release',
      token: held.token,
      key: '{lock}',
      ok: true,
      reply: 2,
    });
    this.events.push({ kind: 'release-ok', at, attempt: held.attempt, outcome: 'released' });
    return this;
  }

  build(): WorkerHistory {
    return { worker: this.worker, events: [...this.events].sort((a, b) => a.at - b.at) };
  }
}

/** Builds a resource log the way resource-server.ts writes it. */
class ResourceLog {
  readonly events: ResourceEvent[] = [];
  #value = 0;
  #maxFence = 0;

  constructor(readonly mode: ResourceMode) {}

  call(at: number, op: ResourceOp, attempt: string, fence: number, base?: number): this {
    const stale = op !== 'exit' && fence < this.#maxFence;
    const accepted = !(this.mode === 'fenced' && stale);
    const valueBefore = this.#value;
    if (accepted && op !== 'exit') {
      this.#maxFence = Math.max(this.#maxFence, fence);
      if (op === 'write') this.#value = (base ?? this.#value) + 1;
    }
    this.events.push({
      seq: this.events.length + 1,
      at,
      mode: this.mode,
      op,
      resource: 'shared',
      worker: attempt.split(':')[0] ?? '',
      attempt,
      fence,
      sentAt: at,
      accepted,
      ...(accepted ? {} : { reason: 'stale-token' as const }),
      maxFenceBefore: this.#maxFence,
      valueBefore,
      valueAfter: this.#value,
      ...(base === undefined ? {} : { base }),
    });
    return this;
  }
}

function logs(
  histories: HistoryBuilder[],
  { resource = [], faults = [], endedAt = 10_000 }: Partial<Omit<RunLogs, 'histories'>> = {},
): RunLogs {
  return { histories: histories.map((history) => history.build()), resource, faults, endedAt };
}

function properties(result: ReturnType<typeof checkRun>): PropertyId[] {
  return result.violations.map((violation) => violation.property);
}

describe('checker › clean histories', () => {
  it('accepts a release followed by the next holder, with refreshes in between', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const held = a.acquire(0, 1, 2, 1);
    a.extend(held, 300, 302, EXTENDED).release(held.attempt, 500);
    b.failedAcquire(10, 3_600);
    const next = b.acquire(3_700, 3_701, 3_702, 2);
    b.release(next.attempt, 3_900);
    const resource = new ResourceLog('fenced')
      .call(5, 'enter', held.attempt, 1)
      .call(400, 'write', held.attempt, 1, 0)
      .call(401, 'exit', held.attempt, 1)
      .call(3_705, 'enter', next.attempt, 2)
      .call(3_800, 'write', next.attempt, 2, 1)
      .call(3_801, 'exit', next.attempt, 2).events;
    const result = checkRun(logs([a, b], { resource }));
    expect(result.violations).toEqual([]);
    expect(result.operations).toMatchObject({ acquires: 3, acquired: 2, writesAccepted: 2 });
    expect(result.resource).toMatchObject({ overlaps: 0, staleWritesAccepted: 0, lostUpdates: 0 });
  });

  it('accepts a lost signal right at the end of validity, and a holder that kept extending', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    // 300 → valid until 1288; 600 → 1588; then nothing more: lost at 1590.
    a.extend(held, 300, 301, EXTENDED).extend(held, 600, 601, EXTENDED).lost(held.attempt, 1_590);
    const result = checkRun(logs([a]));
    expect(result.violations).toEqual([]);
    expect(result.signalAfterValidityMs.max).toBe(2);
  });

  it('accepts a holder that trusts the longer expiry Redis replied to a shorter extension', () => {
    // The extension sent at 300 asked for 1000 ms; the key already had 1500 left (an extend never
    // shortens): valid until 300 + 1500 − 17 = 1783.
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 300, 301, 1_500).check(held.attempt, 1_700, true).lost(held.attempt, 1_784);
    expect(checkRun(logs([a])).violations).toEqual([]);
  });

  it('judges an extend by the reply that came last, also when replies came out of send order', () => {
    // A manual extend sent at 100 is answered at 350 (after a manual failover, through the new
    // master), after a refresh sent at 200 failed at 300 on a closed connection: the success
    // rests on the reply of 350, not on the refresh sent later.
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 100, 350, EXTENDED, { manual: true });
    a.events.push({
      kind: 'command',
      sentAt: 200,
      at: 300,
      script: 'mutex-extend',
      token: held.token,
      ttlMs: SETTINGS.ttlMs,
      ok: false,
      error: 'Error: Connection is closed.',
    });
    a.release(held.attempt, 400);
    expect(properties(checkRun(logs([a])))).toEqual([]);
  });
});

describe('checker › grants for a claim window', () => {
  // a holds from 0 and hands the lock over with a release sent at 100, answered at 102; b's
  // attempt was told "held" at 50, and the grant's message made it a holder at 103. The key held
  // b's token for the claim window (500 ms) from the release's run, at 102 at the latest.
  it('accepts a holder that counts the claim window from the grant', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const held = a.acquire(0, 0, 1, 1);
    a.handOver(held, 100, 102);
    const granted = b.grantedWhileQueued(40, 50, 103, 2, 480);
    b.release(granted.attempt, 300);
    expect(checkRun(logs([a, b])).violations).toEqual([]);
  });

  it('flags a holder that counts its ttl from its attempt instead (held-after-validity)', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const held = a.acquire(0, 0, 1, 1);
    a.handOver(held, 100, 102);
    // 50 + 1000 − 12 = 1038: valid for a grant of the ttl, 441 ms past the claim window's end.
    const granted = b.grantedWhileQueued(40, 50, 103, 2, 1_038 - 103);
    b.release(granted.attempt, 300);
    expect(properties(checkRun(logs([a, b])))).toContain('held-after-validity');
  });
});

describe('checker › histories that must be flagged', () => {
  it('flags a grant while another claim is still valid (lease-overlap)', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const first = a.acquire(0, 0, 1, 1);
    a.lost(first.attempt, 989);
    b.acquire(400, 499, 500, 2);
    expect(properties(checkRun(logs([a, b])))).toContain('lease-overlap');
  });

  it('flags an acquire that resolved after its validity (acquire-after-validity)', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 990, 1);
    a.release(held.attempt, 991);
    expect(properties(checkRun(logs([a])))).toEqual(['acquire-after-validity']);
  });

  it('flags an extend that succeeded although its reply came after the validity ended', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 900, 995, EXTENDED, { manual: true }).release(held.attempt, 1_000);
    expect(properties(checkRun(logs([a])))).toContain('extend-after-validity');
  });

  it("counts an extension's validity from the PTTL Redis replied, not from the ttl asked for", () => {
    // Redis says 500 ms are left after the extension sent at 300: the deadline stays at 988 (not
    // 300 + 1000 − 12 = 1288, which a ttl-based model would take), so isHeld at 990 is flagged.
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 300, 301, 500).check(held.attempt, 990, true).lost(held.attempt, 989);
    expect(properties(checkRun(logs([a])))).toContain('held-after-validity');
  });

  it('flags an extend that succeeded on a refused reply', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 100, 101, 0, { manual: true }).release(held.attempt, 200);
    expect(properties(checkRun(logs([a])))).toContain('extend-after-validity');
  });

  it('flags isHeld === true after the validity ended, or after the lost signal', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.check(held.attempt, 990, true).lost(held.attempt, 989);
    const b = new HistoryBuilder('b');
    const other = b.acquire(2_000, 2_000, 2_001, 2);
    b.lost(other.attempt, 2_100, 'taken').check(other.attempt, 2_101, true);
    b.release(other.attempt, 2_102);
    const flagged = checkRun(logs([a, b])).violations.filter(
      (violation) => violation.property === 'held-after-validity',
    );
    expect(flagged.map((violation) => violation.attempt)).toEqual([held.attempt, other.attempt]);
  });

  it('flags a late lost signal and a missing one', () => {
    const late = new HistoryBuilder('late');
    const first = late.acquire(0, 0, 1, 1);
    late.lost(first.attempt, 988 + 401);
    const silent = new HistoryBuilder('silent');
    silent.acquire(5_000, 5_000, 5_001, 2);
    const result = checkRun(logs([late, silent], { endedAt: 8_000 }));
    expect(properties(result)).toEqual(['late-signal', 'missing-signal']);
  });

  it('measures the signal after a key loss from when it became observable', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.extend(held, 300, 301, EXTENDED).extend(held, 600, 601, 0).lost(held.attempt, 602, 'taken');
    const faults: FaultEvent[] = [{ kind: 'key-loss', at: 400, observableAt: 400, what: 'DEL' }];
    const result = checkRun(logs([a], { faults }));
    expect(result.violations).toEqual([]);
    expect(result.signalAfterKeyLossMs.max).toBe(202);

    const slow = new HistoryBuilder('a');
    const again = slow.acquire(0, 0, 1, 1);
    slow.extend(again, 300, 301, EXTENDED).lost(again.attempt, 1_250, 'taken');
    expect(properties(checkRun(logs([slow], { faults })))).toEqual(['late-signal']);
  });

  it('with a pushed-loss bound, flags a key loss signalled at the next refresh and accepts one signalled at once', () => {
    const faults: FaultEvent[] = [{ kind: 'key-loss', at: 400, observableAt: 400, what: 'DEL' }];
    const pushed = { ...DEFAULT_CHECK_OPTIONS, keyLossSignalMs: 10 };
    const prompt = new HistoryBuilder('a');
    prompt.lost(prompt.acquire(0, 0, 1, 1).attempt, 402, 'expired');
    expect(checkRun(logs([prompt], { faults }), pushed).violations).toEqual([]);

    const atRefresh = new HistoryBuilder('a');
    const held = atRefresh.acquire(0, 0, 1, 1);
    atRefresh.extend(held, 300, 301, EXTENDED).extend(held, 600, 601, 0).lost(held.attempt, 602);
    expect(properties(checkRun(logs([atRefresh], { faults }), pushed))).toEqual(['late-signal']);
    expect(checkRun(logs([atRefresh], { faults })).violations).toEqual([]);
  });

  it('measures a frozen holder from its thaw, not from its deadline', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.lost(held.attempt, 2_010);
    const faults: FaultEvent[] = [{ kind: 'worker-freeze', at: 500, until: 2_000, worker: 'a' }];
    const result = checkRun(logs([a], { faults }));
    expect(result.violations).toEqual([]);
    expect(result.signalAfterValidityMs.max).toBe(10);
  });

  it('flags a stale write accepted after a later grant reached the resource (unfenced)', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const old = a.acquire(0, 0, 1, 1);
    a.lost(old.attempt, 988);
    const next = b.acquire(900, 1_000, 1_001, 2);
    b.release(next.attempt, 1_200);
    const unfenced = new ResourceLog('unfenced')
      .call(2, 'enter', old.attempt, 1)
      .call(1_002, 'enter', next.attempt, 2)
      .call(1_050, 'write', old.attempt, 1, 0)
      .call(1_051, 'exit', old.attempt, 1)
      .call(1_100, 'write', next.attempt, 2, 0)
      .call(1_101, 'exit', next.attempt, 2).events;
    const result = checkRun(logs([a, b], { resource: unfenced }));
    expect(properties(result)).toEqual(['resource-overlap', 'stale-write-accepted']);
    expect(result.resource).toMatchObject({
      staleWritesAccepted: 1,
      belowMaxTokenAccepted: 1,
      lostUpdates: 1,
      rejected: 0,
    });

    // The same calls against a fenced resource: the stale write is refused, nothing is lost.
    const fenced = new ResourceLog('fenced')
      .call(2, 'enter', old.attempt, 1)
      .call(1_002, 'enter', next.attempt, 2)
      .call(1_050, 'write', old.attempt, 1, 0)
      .call(1_051, 'exit', old.attempt, 1)
      .call(1_100, 'write', next.attempt, 2, 0)
      .call(1_101, 'exit', next.attempt, 2).events;
    const guarded = checkRun(logs([a, b], { resource: fenced }));
    expect(properties(guarded)).toEqual([]);
    expect(guarded.resource).toMatchObject({ staleWritesAccepted: 0, rejected: 1, lostUpdates: 0 });
  });

  it('flags a stale write a fenced resource accepts once the token source was reset', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const old = a.acquire(0, 0, 1, 7);
    a.lost(old.attempt, 988);
    // The counter was flushed: the next grant gets token 1, below the old holder's 7.
    const next = b.acquire(500, 1_000, 1_001, 1);
    b.release(next.attempt, 1_200);
    const resource = new ResourceLog('fenced')
      .call(2, 'enter', old.attempt, 7)
      .call(1_002, 'enter', next.attempt, 1)
      .call(1_050, 'write', old.attempt, 7, 0)
      .call(1_051, 'exit', old.attempt, 7)
      .call(1_100, 'exit', next.attempt, 1).events;
    const result = checkRun(logs([a, b], { resource }));
    expect(properties(result)).toEqual([
      'token-regression',
      'resource-overlap',
      'stale-write-accepted',
    ]);
    expect(result.resource).toMatchObject({ falseRejections: 1, staleWritesAccepted: 1 });
  });

  it('flags a duplicate fencing token', () => {
    const a = new HistoryBuilder('a');
    const first = a.acquire(0, 0, 1, 3);
    a.release(first.attempt, 10);
    const second = a.acquire(20, 20, 21, 3);
    a.release(second.attempt, 30);
    expect(properties(checkRun(logs([a])))).toEqual(['duplicate-fence', 'token-regression']);
  });

  it('measures the takeover after a SIGKILL and flags a slow one', () => {
    const build = (nextAt: number) => {
      const a = new HistoryBuilder('a');
      const b = new HistoryBuilder('b');
      a.acquire(0, 0, 1, 1);
      const next = b.acquire(10, nextAt - 1, nextAt, 2);
      b.release(next.attempt, nextAt + 100);
      return [a, b];
    };
    const faults: FaultEvent[] = [{ kind: 'worker-kill', at: 300, worker: 'a' }];
    const quick = checkRun(logs(build(1_100), { faults }));
    expect(quick.takeoverMs).toEqual([800]);
    expect(quick.violations).toEqual([]);
    expect(properties(checkRun(logs(build(1_600), { faults })))).toEqual(['slow-takeover']);
  });

  it('flags an operation that outlived its timeout, but not time spent frozen', () => {
    const a = new HistoryBuilder('a');
    a.failedAcquire(0, 3_700);
    expect(properties(checkRun(logs([a])))).toEqual(['op-timeout']);
    const faults: FaultEvent[] = [{ kind: 'worker-freeze', at: 100, until: 1_100, worker: 'a' }];
    expect(checkRun(logs([a], { faults })).violations).toEqual([]);
  });

  it('flags a release that outlived commandTimeoutMs', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.release(held.attempt, 100, 750);
    expect(properties(checkRun(logs([a])))).toEqual(['op-timeout']);
  });

  it('flags a success that no recorded command granted', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1, { withCommand: false });
    a.release(held.attempt, 10);
    expect(properties(checkRun(logs([a])))).toEqual(['unexplained-success']);
  });

  it('does not count a late exit, or a refused entry, as acting at the resource', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const old = a.acquire(0, 0, 1, 1);
    a.lost(old.attempt, 988);
    const next = b.acquire(500, 1_000, 1_001, 2);
    b.release(next.attempt, 1_200);
    const resource = new ResourceLog('fenced')
      .call(2, 'enter', old.attempt, 1)
      .call(1_002, 'enter', next.attempt, 2)
      .call(1_010, 'exit', old.attempt, 1)
      .call(1_011, 'enter', old.attempt, 1)
      .call(1_012, 'exit', old.attempt, 1)
      .call(1_100, 'exit', next.attempt, 2).events;
    const result = checkRun(logs([a, b], { resource }));
    expect(result.violations).toEqual([]);
    expect(result.resource).toMatchObject({ overlaps: 0, rejected: 1, falseRejections: 0 });
  });
});

describe('checker › validity from what the server did, not from the library’s rule', () => {
  // Acquired by a command sent at 0: the key expires at 1000 at the earliest, valid until 988.

  it('flags a plain PEXPIRE that shortened the key while the holder kept its old validity', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const held = a.acquire(0, 0, 1, 1);
    // extend(200) at 100: the server's key now expires at 300 at the earliest (valid to 296), but
    // the holder still reports its old validity (max(old, new), the library's old rule).
    a.extend(held, 100, 101, 1, { manual: true, ttlMs: 200, script: EXTEND_PLAIN })
      .check(held.attempt, 150, true, 838)
      .check(held.attempt, 450, true, 538)
      .release(held.attempt, 900);
    const next = b.acquire(380, 390, 391, 2);
    b.release(next.attempt, 600);
    const result = checkRun(logs([a, b]));
    // The claim at 150 reaches 692 ms too far; at 450 it is held after the validity; and the
    // holder never signalled the loss.
    expect(properties(result)).toEqual([
      'held-after-validity',
      'held-after-validity',
      'missing-signal',
    ]);
    expect(result.violations[0]?.detail).toMatch(/claimed remainingMs reaching 692\.0 ms past/);
  });

  it('trusts a PTTL reply below the old remaining time, even from a script that should never shorten', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    // The reply says the key has 200 ms left: it expires by 301, whatever the script promised.
    a.extend(held, 100, 101, 200, { manual: true, ttlMs: 200, script: EXTEND_GT })
      .check(held.attempt, 150, true, 838)
      .release(held.attempt, 200);
    expect(properties(checkRun(logs([a])))).toEqual(['held-after-validity']);
  });

  it('accepts a short extend that did not shorten the key (PEXPIRE GT, PTTL of the old expiry)', () => {
    const a = new HistoryBuilder('a');
    const b = new HistoryBuilder('b');
    const held = a.acquire(0, 0, 1, 1);
    // Run at 100.5 with 899.5 ms left: the reply is 899, so the expiry is at 999 at the earliest
    // by the reply alone; the key was not shortened, so the bound from the grant (1000) stays.
    a.extend(held, 100, 101, 899, { manual: true, ttlMs: 200, script: EXTEND_GT })
      .check(held.attempt, 150, true, 838)
      .extend(held, 300, 301, 1_000, { script: EXTEND_GT })
      .check(held.attempt, 700, true, 588)
      .release(held.attempt, 900);
    const next = b.acquire(880, 905, 906, 2);
    b.release(next.attempt, 1_000);
    expect(checkRun(logs([a, b])).violations).toEqual([]);
  });

  it('flags a holder still claiming after a release it did not invoke (locker closed)', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.check(held.attempt, 100, true, 888)
      .releaseCommand(held.token, 200, 201)
      .check(held.attempt, 300, true, 688)
      .release(held.attempt, 400);
    const result = checkRun(logs([a]));
    expect(properties(result)).toEqual(['held-after-validity']);
  });

  it('a plain extend whose outcome is unknown may have shortened the key', () => {
    const a = new HistoryBuilder('a');
    const held = a.acquire(0, 0, 1, 1);
    a.events.push({
      kind: 'command',
      sentAt: 100,
      at: 600,
      script: 'mutex-extend',
      token: held.token,
      ttlMs: 200,
      ok: false,
      error: 'timeout',
      extendScript: EXTEND_PLAIN,
    });
    a.check(held.attempt, 650, true, 338).release(held.attempt, 700);
    expect(properties(checkRun(logs([a])))).toEqual(['held-after-validity', 'missing-signal']);
    // The same with PEXPIRE GT cannot have shortened it.
    const gt = new HistoryBuilder('a');
    const kept = gt.acquire(0, 0, 1, 1);
    gt.events.push({
      kind: 'command',
      sentAt: 100,
      at: 600,
      script: 'mutex-extend',
      token: kept.token,
      ttlMs: 200,
      ok: false,
      error: 'timeout',
      extendScript: EXTEND_GT,
    });
    gt.check(kept.attempt, 650, true, 338).release(kept.attempt, 700);
    expect(checkRun(logs([gt])).violations).toEqual([]);
  });
});

describe('checker › locks several may hold (semaphore, read-write lock)', () => {
  const SEMAPHORE = { lockKind: 'semaphore', capacity: 2 } as const;
  const READ_WRITE = { lockKind: 'read-write', capacity: 1_000_000 } as const;

  it('accepts as many holders as the limit, in any token order, and flags one more', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((w) => new HistoryBuilder(w, SEMAPHORE));
    if (!a || !b || !c) throw new Error('three builders');
    // One release granted both: b saw its grant (fence 3) before a saw its own (fence 2).
    const first = a.acquire(0, 0, 20, 2);
    const second = b.acquire(0, 0, 10, 3);
    a.release(first.attempt, 300);
    b.release(second.attempt, 300);
    expect(properties(checkRun(logs([a, b])))).toEqual([]);
    const third = c.acquire(100, 100, 101, 4);
    c.release(third.attempt, 200);
    expect(properties(checkRun(logs([a, b, c])))).toEqual(['lease-overlap']);
  });

  it('accepts readers side by side and flags a writer beside a reader', () => {
    const [r1, r2, w] = ['r1', 'r2', 'w'].map((id) => new HistoryBuilder(id, READ_WRITE));
    if (!r1 || !r2 || !w) throw new Error('three builders');
    const one = r1.acquire(0, 0, 1, 1);
    const two = r2.acquire(0, 0, 2, 2);
    r1.release(one.attempt, 300);
    r2.release(two.attempt, 300);
    expect(properties(checkRun(logs([r1, r2])))).toEqual([]);
    const write = w.acquire(200, 200, 201, 3, { weight: 1_000_000 });
    w.release(write.attempt, 250);
    // One violation per grant that did not fit, naming every claim it met.
    expect(properties(checkRun(logs([r1, r2, w])))).toEqual(['lease-overlap']);
  });

  it('flags a writer whose token is not above every earlier one, and a reader below a writer', () => {
    const [r, w] = ['r', 'w'].map((id) => new HistoryBuilder(id, READ_WRITE));
    if (!r || !w) throw new Error('two builders');
    const read = r.acquire(0, 0, 1, 5);
    r.release(read.attempt, 10);
    const write = w.acquire(20, 20, 21, 4, { weight: 1_000_000 });
    w.release(write.attempt, 30);
    const late = r.acquire(40, 40, 41, 3);
    r.release(late.attempt, 50);
    expect(properties(checkRun(logs([r, w])))).toEqual(['token-regression', 'token-regression']);
  });

  it('flags a semaphore holder acting at the resource while more newer holders are inside than permits are left', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((w) => new HistoryBuilder(w, SEMAPHORE));
    if (!a || !b || !c) throw new Error('three builders');
    // a's permit lapses while it is frozen inside with a write in flight (valid until 988); b and
    // c take both permits at 1000 and enter. By the leases nobody overlapped.
    const old = a.acquire(0, 0, 1, 1);
    a.lost(old.attempt, 1_000);
    const second = b.acquire(900, 1_000, 1_001, 2);
    const third = c.acquire(900, 1_000, 1_002, 3);
    b.release(second.attempt, 1_600);
    c.release(third.attempt, 1_600);
    const resource = () =>
      new ResourceLog('unfenced')
        .call(10, 'enter', old.attempt, 1)
        .call(1_010, 'enter', second.attempt, 2)
        .call(1_011, 'enter', third.attempt, 3);
    const late = resource()
      .call(1_500, 'write', old.attempt, 1, 0)
      .call(1_501, 'exit', old.attempt, 1);
    expect(properties(checkRun(logs([a, b, c], { resource: late.events })))).toEqual([
      'resource-overlap',
    ]);
    // The same write with one newer holder inside: two permits' worth acting, within the limit.
    const oneLeft = resource()
      .call(1_400, 'exit', third.attempt, 3)
      .call(1_500, 'write', old.attempt, 1, 0)
      .call(1_501, 'exit', old.attempt, 1);
    expect(properties(checkRun(logs([a, b, c], { resource: oneLeft.events })))).toEqual([]);
    // Or with c killed inside: a dead holder does not act.
    const killed: FaultEvent = { kind: 'worker-kill', at: 1_300, worker: 'c' };
    expect(
      properties(checkRun(logs([a, b, c], { resource: late.events, faults: [killed] }))),
    ).not.toContain('resource-overlap');
  });
});

describe('checker › several lock names (a multi-lock)', () => {
  it('judges exclusion, fencing and the resource name by name', () => {
    const [a, b] = ['a', 'b'].map((w) => new HistoryBuilder(w));
    if (!a || !b) throw new Error('two builders');
    // a holds x and y, b holds z at the same time, with tokens drawn per name.
    const ax = a.acquire(0, 0, 1, 5, { lock: 'x' });
    const ay = a.acquire(0, 0, 2, 9, { lock: 'y' });
    const bz = b.acquire(0, 0, 3, 1, { lock: 'z' });
    for (const held of [ax, ay]) a.release(held.attempt, 300);
    b.release(bz.attempt, 300);
    const resource = new ResourceLog('unfenced')
      .call(10, 'enter', ax.attempt, 5)
      .call(11, 'enter', bz.attempt, 1)
      .call(100, 'write', ax.attempt, 5, 0)
      .call(101, 'exit', ax.attempt, 5)
      .call(102, 'exit', bz.attempt, 1);
    expect(properties(checkRun(logs([a, b], { resource: resource.events })))).toEqual([]);
    // b also takes y while a holds it, with a lower token: both checks see it on y.
    const by = b.acquire(100, 100, 101, 8, { lock: 'y' });
    b.release(by.attempt, 200);
    expect(properties(checkRun(logs([a, b], { resource: resource.events })))).toEqual([
      'lease-overlap',
      'token-regression',
    ]);
  });

  it('bounds the takeover of a killed holder’s name for those waiting for it, even if their multi-lock then times out', () => {
    const killed: FaultEvent = { kind: 'worker-kill', at: 100, worker: 'a' };
    const run = (waiter?: (b: HistoryBuilder) => void) => {
      const [a, b] = ['a', 'b'].map((w) => new HistoryBuilder(w));
      if (!a || !b) throw new Error('two builders');
      a.acquire(0, 0, 1, 1, { lock: 'x' });
      waiter?.(b);
      return checkRun(logs([a, b], { faults: [killed], endedAt: 5_000 }));
    };
    // Nobody asks for x: it lies free, and there is no takeover to time.
    expect(properties(run())).toEqual([]);
    expect(run().takeoverMs).toEqual([]);
    // b asks at 200 and takes x right after a's key expires, then times out on its next name.
    const taken = run((b) =>
      b.askedThenTimedOut('x', { askAt: 200, grantAt: 1_010, failAt: 3_200 }),
    );
    expect(properties(taken)).toEqual([]);
    expect(taken.takeoverMs).toEqual([910]);
    // b asks at 200 and waits on, but gets x only at 2000: slow.
    const slow = run((b) =>
      b.askedThenTimedOut('x', { askAt: 200, grantAt: 2_000, failAt: 3_200 }),
    );
    expect(properties(slow)).toEqual(['slow-takeover']);
    // b asks only at 1900, when x had been free for a while: not a takeover of a's hold.
    const late = run((b) =>
      b.askedThenTimedOut('x', { askAt: 1_900, grantAt: 1_901, failAt: 3_200 }),
    );
    expect(properties(late)).toEqual([]);
  });
});

describe('checker › reentrant owners', () => {
  it('accepts holds of one owner side by side with one token, and flags another owner among them', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((w) => new HistoryBuilder(w));
    if (!a || !b || !c) throw new Error('three builders');
    const first = a.acquire(0, 0, 1, 7, { owner: 'job' });
    const joined = b.acquire(50, 50, 51, 7, { owner: 'job' });
    a.release(first.attempt, 300);
    b.release(joined.attempt, 200);
    expect(properties(checkRun(logs([a, b])))).toEqual([]);
    const stranger = c.acquire(100, 100, 101, 8, { owner: 'other' });
    c.release(stranger.attempt, 150);
    expect(properties(checkRun(logs([a, b, c])))).toEqual(['lease-overlap']);
  });
});
