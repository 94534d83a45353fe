/**
 * One typed descriptor per Lua script: the keys it takes, how its arguments are encoded, and how its
 * reply is decoded. The Lua itself lives in ./lua/*.lua; build-lua turns it into ./generated.ts.
 */
import type {
  AttemptRequest,
  ExtendReply,
  QueueMode,
  ReleaseReply,
} from '../../../core/backend.js';
import type { LuaScriptSource } from '../adapter.js';
import { type LockKeys, type MutexKeys, releaseTombstoneKey } from '../keys.js';
import { LUA_SOURCES } from './generated.js';

export interface LuaScript<Keys extends LockKeys, Args, Reply> extends LuaScriptSource {
  keys(keys: Keys, args: Args): string[];
  args(args: Args): string[];
  /** Decodes the raw reply; throws a plain Error on a shape the script cannot produce. */
  parse(raw: unknown): Reply;
}

/** The error a descriptor's parse throws for a reply its script cannot give. */
export function unexpected(raw: unknown): Error {
  return new Error(`unexpected script reply ${JSON.stringify(raw)}`);
}

/** An integer reply (Redis integers may come as strings from some clients). */
export function integer(raw: unknown): number {
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw unexpected(raw);
  }
  return value;
}

export function pair(raw: unknown): [number, number] {
  if (!Array.isArray(raw) || raw.length !== 2) throw unexpected(raw);
  return [integer(raw[0]), integer(raw[1])];
}

/**
 * How long a name's fencing counter lives from its start; then it starts again from the
 * server's clock (include/fence.lua, where the scripts read it: a test checks the two agree).
 */
export const FENCE_KEEP_MS = 60_000;

/**
 * The claim window of a mutex grant: how long the key holds a granted waiter's token before the
 * waiter claims it for its ttl (mutex-release.lua, where the script reads it: a test checks the two
 * agree). Capped by the waiter's ttl.
 */
export const GRANT_CLAIM_MS = 500;

/** How an acquire attempt treats the waiting queue (ARGV[3] of the acquire scripts). */
export const QUEUE_MODE = {
  never: '0',
  join: '1',
  queued: '2',
} as const satisfies Record<QueueMode, string>;

export type AcquireReply =
  | { readonly kind: 'acquired'; readonly fencingToken: number }
  | {
      readonly kind: 'held';
      readonly pttlMs: number;
      /** The caller's queue entry had vanished and was added again, at the end of the line. */
      readonly requeued: boolean;
      /** Server time in µs when the caller's queue entry was written (queued callers only). */
      readonly serverTimeUs?: number;
    }
  | { readonly kind: 'conflict'; readonly detail: string };

/** ARGV[1..9] of every kind's acquire script: the attempt and its place in the queue. */
export interface AttemptArgs {
  readonly token: string;
  readonly ttlMs: number;
  readonly queueMode: (typeof QUEUE_MODE)[QueueMode];
  readonly sleepCapMs: number;
  readonly graceMs: number;
  readonly channel: string;
  readonly attempt: number;
  /** True when the caller tries again at the holder's expiry (it polls for its process). */
  readonly polls: boolean;
  /** How long the queue keys live after this join or refresh; no entry lives longer. */
  readonly queueLifeMs: number;
}

/**
 * The attempt arguments of one acquire: the loop's request and this process's wake channel. Built
 * field by field: an object spread here cost the mutex's hot path about a fifth of its throughput
 * with 256 locks at once (26k against 33k acquire+release a second on ioredis).
 */
export function attemptArgs(request: AttemptRequest, channel: string): AttemptArgs {
  return {
    token: request.token,
    ttlMs: request.ttlMs,
    queueMode: QUEUE_MODE[request.queue],
    sleepCapMs: request.sleepCapMs,
    graceMs: request.graceMs,
    channel,
    attempt: request.attempt,
    polls: request.polls,
    queueLifeMs: request.queueLifeMs,
  };
}

export function encodeAttempt(a: AttemptArgs): string[] {
  return [
    a.token,
    String(a.ttlMs),
    a.queueMode,
    String(a.sleepCapMs),
    String(a.graceMs),
    a.channel,
    String(a.attempt),
    a.polls ? '1' : '0',
    String(a.queueLifeMs),
  ];
}

/** The ARGV of every kind's extend script. */
export function encodeExtend(a: { token: string; ttlMs: number }): string[] {
  return [a.token, String(a.ttlMs)];
}

/** The ARGV of every kind's release script. */
export function encodeRelease(a: ReleaseArgs): string[] {
  return [a.token, a.withdraw ? '1' : '0', String(Math.max(0, Math.ceil(a.tombstoneMs ?? 0)))];
}

/** The replies every kind's release script shares: 2, 1, 0 (and -1 where a key holds a token). */
export function parseRelease(raw: unknown): ReleaseReply {
  const status = integer(raw);
  if (status === 2) return 'handed-over';
  if (status === 1) return 'released';
  if (status === 0) return 'missing';
  if (status === -1) return 'other-token';
  throw unexpected(raw);
}

/** The replies every kind's extend script shares: the PTTL now, 0 gone, -1 another token. */
export function parseExtend(raw: unknown): ExtendReply {
  const status = integer(raw);
  if (status > 0) return { kind: 'extended', pttlMs: status };
  if (status === 0) return { kind: 'missing' };
  if (status === -1) return { kind: 'other-token' };
  throw unexpected(raw);
}

/** Every kind's "held" reply to a queued caller: {0, pttl, requeued 0|1, server µs}. */
export function parseQueued(raw: unknown[]): Extract<AcquireReply, { kind: 'held' }> {
  const requeued = integer(raw[2]);
  if (integer(raw[0]) !== 0 || (requeued !== 0 && requeued !== 1)) throw unexpected(raw);
  return {
    kind: 'held',
    pttlMs: integer(raw[1]),
    requeued: requeued === 1,
    serverTimeUs: integer(raw[3]),
  };
}

export const mutexAcquire = {
  ...LUA_SOURCES['mutex-acquire'],
  keys: (k: MutexKeys) => [k.lock, k.fence, k.queue, k.waiters],
  args: encodeAttempt,
  parse(raw: unknown): AcquireReply {
    if (Array.isArray(raw) && raw.length === 4 && integer(raw[0]) === 0) return parseQueued(raw);
    const [status, value] = pair(raw);
    if (status === 1) return { kind: 'acquired', fencingToken: value };
    if (status === 0) return { kind: 'held', pttlMs: value, requeued: false };
    if (status === -1 && (value === 1 || value === 2)) {
      return {
        kind: 'conflict',
        detail: value === 1 ? 'a string without expiry' : 'a string that is not a latchkey token',
      };
    }
    throw unexpected(raw);
  },
} as const satisfies LuaScript<MutexKeys, never, AcquireReply>;

export interface ReleaseArgs {
  readonly token: string;
  readonly withdraw: boolean;
  /**
   * How long a release that released leaves its tombstone, so that the same command run again
   * (resent after a reconnect) reports released: the caller's time budget for it. Omitted or 0:
   * none.
   */
  readonly tombstoneMs?: number;
}

export const mutexRelease = {
  ...LUA_SOURCES['mutex-release'],
  keys: (k: MutexKeys, a: ReleaseArgs) => [
    k.lock,
    k.fence,
    k.queue,
    k.waiters,
    releaseTombstoneKey(k, a.token),
  ],
  args: encodeRelease,
  parse: parseRelease,
} as const satisfies LuaScript<MutexKeys, never, ReleaseReply>;

export const mutexExtend = {
  ...LUA_SOURCES['mutex-extend'],
  keys: (k: MutexKeys) => [k.lock],
  args: encodeExtend,
  parse: parseExtend,
} as const satisfies LuaScript<MutexKeys, never, ExtendReply>;

export interface InspectReply {
  /** The holder's token (or that of a waiter the lock was just granted to), or null when free. */
  readonly value: string | null;
  /** Remaining ms of the lock key, or -2 when free. */
  readonly pttlMs: number;
  /** The last fencing token issued for this name, or 0 if none yet. */
  readonly lastFencingToken: number;
  readonly queued: number;
}

export const mutexInspect = {
  ...LUA_SOURCES['mutex-inspect'],
  keys: (k: MutexKeys) => [k.lock, k.fence, k.queue],
  args: () => [],
  parse(raw: unknown): InspectReply {
    if (!Array.isArray(raw) || raw.length !== 4) {
      throw new Error(`unexpected script reply ${JSON.stringify(raw)}`);
    }
    const [value, pttl, fence, queued] = raw;
    return {
      value: typeof value === 'string' ? value : null,
      pttlMs: integer(pttl),
      lastFencingToken: fence == null ? 0 : integer(fence),
      queued: integer(queued),
    };
  },
} as const satisfies LuaScript<MutexKeys, never, InspectReply>;

/** What the server check reads from INFO (see server-info.lua). */
export interface ServerInfo {
  /** `redis_version`, e.g. "7.0.15"; empty if the server does not report one. */
  readonly version: string;
  readonly clusterEnabled: boolean;
  /** `maxmemory_policy`, e.g. "noeviction"; empty if not reported. */
  readonly maxmemoryPolicy: string;
  /** `maxmemory` in bytes; 0 when unlimited. */
  readonly maxmemory: number;
  /** `aof_enabled`: the server logs every write to its append-only file (`appendonly yes`). */
  readonly aofEnabled: boolean;
}

/** Parses INFO text ("field:value" lines, "#" section headers) into a map. */
function infoFields(texts: readonly unknown[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (const text of texts) {
    const value = Buffer.isBuffer(text) ? text.toString() : text;
    if (typeof value !== 'string') throw unexpected(texts);
    for (const line of value.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith('#'))
        fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
  }
  return fields;
}

export const serverInfo = {
  ...LUA_SOURCES['server-info'],
  keys: (): string[] => [],
  args: () => [],
  parse(raw: unknown): ServerInfo {
    if (!Array.isArray(raw) || raw.length !== 4) throw unexpected(raw);
    const fields = infoFields(raw);
    return {
      version: fields.get('redis_version') ?? '',
      clusterEnabled: fields.get('cluster_enabled') === '1',
      maxmemoryPolicy: fields.get('maxmemory_policy') ?? '',
      maxmemory: Number(fields.get('maxmemory') ?? 0) || 0,
      // A server that does not say (a proxy, an older fork) is not warned about.
      aofEnabled: fields.get('aof_enabled') !== '0',
    };
  },
} as const satisfies LuaScript<LockKeys, never, ServerInfo>;
