/** Typed descriptors of the counting semaphore's scripts (lua/semaphore-*.lua). */
import type { ExtendReply, ReleaseReply, SemaphoreSnapshot } from '../../../core/backend.js';
import { releaseTombstoneKey, type SemaphoreKeys } from '../keys.js';
import { LUA_SOURCES } from './generated.js';
import {
  type AttemptArgs,
  encodeAttempt,
  encodeExtend,
  encodeRelease,
  integer,
  type LuaScript,
  pair,
  parseQueued,
  type ReleaseArgs,
  unexpected,
} from './index.js';

export type SemaphoreAcquireReply =
  | { readonly kind: 'acquired'; readonly fencingToken: number }
  | { readonly kind: 'held'; readonly pttlMs: number; readonly requeued: boolean }
  /** The name is in use with another limit, `limit`. */
  | { readonly kind: 'limit-mismatch'; readonly limit: number };

export const semaphoreAcquire = {
  ...LUA_SOURCES['semaphore-acquire'],
  keys: (k: SemaphoreKeys) => [k.lock, k.permits, k.limit, k.fence, k.queue, k.waiters],
  args: (a: AttemptArgs & { limit: number; permits: number }) => [
    ...encodeAttempt(a),
    String(a.limit),
    String(a.permits),
  ],
  parse(raw: unknown): SemaphoreAcquireReply {
    if (Array.isArray(raw) && raw.length === 4 && integer(raw[0]) === 0) return parseQueued(raw);
    const [status, value] = pair(raw);
    if (status === 1) return { kind: 'acquired', fencingToken: value };
    if (status === 0) return { kind: 'held', pttlMs: value, requeued: false };
    if (status === -2 && value > 0) return { kind: 'limit-mismatch', limit: value };
    throw unexpected(raw);
  },
} as const satisfies LuaScript<SemaphoreKeys, never, SemaphoreAcquireReply>;

export const semaphoreRelease = {
  ...LUA_SOURCES['semaphore-release'],
  keys: (k: SemaphoreKeys, a: ReleaseArgs) => [
    k.lock,
    k.permits,
    k.limit,
    k.fence,
    k.queue,
    k.waiters,
    releaseTombstoneKey(k, a.token),
  ],
  args: encodeRelease,
  parse(raw: unknown): ReleaseReply {
    const status = integer(raw);
    if (status === 2) return 'handed-over';
    if (status === 1) return 'released';
    if (status === 0) return 'missing';
    throw unexpected(raw);
  },
} as const satisfies LuaScript<SemaphoreKeys, never, ReleaseReply>;

export const semaphoreExtend = {
  ...LUA_SOURCES['semaphore-extend'],
  keys: (k: SemaphoreKeys) => [k.lock, k.permits, k.limit],
  args: encodeExtend,
  parse(raw: unknown): ExtendReply {
    const status = integer(raw);
    if (status > 0) return { kind: 'extended', pttlMs: status };
    if (status === 0) return { kind: 'missing' };
    throw unexpected(raw);
  },
} as const satisfies LuaScript<SemaphoreKeys, never, ExtendReply>;

export const semaphoreInspect = {
  ...LUA_SOURCES['semaphore-inspect'],
  keys: (k: SemaphoreKeys) => [k.lock, k.permits, k.limit, k.fence, k.queue],
  args: () => [],
  parse(raw: unknown): SemaphoreSnapshot {
    if (!Array.isArray(raw) || raw.length < 3 || (raw.length - 3) % 4 !== 0) throw unexpected(raw);
    const [limit, fence, queued] = raw;
    const holders: SemaphoreSnapshot['holders'][number][] = [];
    for (let i = 3; i < raw.length; i += 4) {
      const token = raw[i];
      if (typeof token !== 'string') throw unexpected(raw);
      holders.push({
        token,
        remainingMs: integer(raw[i + 1]),
        permits: integer(raw[i + 2]),
        fencingToken: integer(raw[i + 3]),
      });
    }
    return {
      limit: limit == null ? null : integer(limit),
      lastFencingToken: fence == null ? 0 : integer(fence),
      waiters: integer(queued),
      holders,
    };
  },
} as const satisfies LuaScript<SemaphoreKeys, never, SemaphoreSnapshot>;

export type SemaphoreReduceReply = 'reduced' | 'missing';

export const semaphoreReduce = {
  ...LUA_SOURCES['semaphore-reduce'],
  keys: (k: SemaphoreKeys) => [k.lock, k.permits, k.limit, k.fence, k.queue, k.waiters],
  args: (a: { token: string; permits: number }) => [a.token, String(a.permits)],
  parse(raw: unknown): SemaphoreReduceReply {
    const status = integer(raw);
    if (status >= 0) return 'reduced';
    if (status === -1) return 'missing';
    // -2 (more permits than held) is a bug of the caller, never a state of the server.
    throw unexpected(raw);
  },
} as const satisfies LuaScript<SemaphoreKeys, never, SemaphoreReduceReply>;
