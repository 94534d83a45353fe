/** Typed descriptors of the reentrant lock's scripts (lua/reentrant-*.lua). */
import type { ExtendReply, ReleaseReply } from '../../../core/backend.js';
import { type ReentrantKeys, releaseTombstoneKey } from '../keys.js';
import { LUA_SOURCES } from './generated.js';
import {
  type AttemptArgs,
  encodeAttempt,
  encodeExtend,
  encodeRelease,
  integer,
  type LuaScript,
  parseExtend,
  parseQueued,
  type ReleaseArgs,
  unexpected,
} from './index.js';

export type ReentrantAcquireReply =
  | { readonly kind: 'acquired'; readonly fencingToken: number; readonly holdCount: number }
  | { readonly kind: 'held'; readonly pttlMs: number; readonly requeued: boolean };

export const reentrantAcquire = {
  ...LUA_SOURCES['reentrant-acquire'],
  keys: (k: ReentrantKeys) => [k.lock, k.permits, k.fence, k.queue, k.waiters, k.entries, k.owners],
  args: (a: AttemptArgs & { owner: string }) => [...encodeAttempt(a), a.owner],
  parse(raw: unknown): ReentrantAcquireReply {
    if (!Array.isArray(raw)) throw unexpected(raw);
    const [status, value, extra] = raw;
    if (status === 1 && raw.length === 3) {
      const holdCount = integer(extra);
      if (holdCount < 1) throw unexpected(raw);
      return { kind: 'acquired', fencingToken: integer(value), holdCount };
    }
    if (status === 0 && raw.length === 2) {
      return { kind: 'held', pttlMs: integer(value), requeued: false };
    }
    if (raw.length === 4) return parseQueued(raw);
    throw unexpected(raw);
  },
} as const satisfies LuaScript<ReentrantKeys, never, ReentrantAcquireReply>;

export const reentrantRelease = {
  ...LUA_SOURCES['reentrant-release'],
  keys: (k: ReentrantKeys, a: ReleaseArgs) => [
    k.lock,
    k.permits,
    k.fence,
    k.queue,
    k.waiters,
    k.entries,
    k.owners,
    releaseTombstoneKey(k, a.token),
  ],
  args: encodeRelease,
  parse(raw: unknown): ReleaseReply {
    const status = integer(raw);
    // 3: this acquisition ended while others of its owner hold on; for it, a release all the same.
    if (status === 3) return 'released';
    if (status === 2) return 'handed-over';
    if (status === 1) return 'released';
    if (status === 0) return 'missing';
    throw unexpected(raw);
  },
} as const satisfies LuaScript<ReentrantKeys, never, ReleaseReply>;

export const reentrantExtend = {
  ...LUA_SOURCES['reentrant-extend'],
  keys: (k: ReentrantKeys) => [k.lock, k.permits, k.entries],
  args: encodeExtend,
  // Never -1: an acquisition that is not the holder's finds no entry (0).
  parse(raw: unknown): ExtendReply {
    const reply = parseExtend(raw);
    if (reply.kind === 'other-token') throw unexpected(raw);
    return reply;
  },
} as const satisfies LuaScript<ReentrantKeys, never, ExtendReply>;

export interface ReentrantInspectReply {
  readonly lastFencingToken: number;
  readonly waiters: number;
  readonly holder:
    | {
        readonly owner: string;
        readonly remainingMs: number;
        readonly holdCount: number;
        readonly fencingToken: number;
      }
    | undefined;
}

export const reentrantInspect = {
  ...LUA_SOURCES['reentrant-inspect'],
  keys: (k: ReentrantKeys) => [k.lock, k.permits, k.fence, k.queue, k.entries],
  args: () => [],
  parse(raw: unknown): ReentrantInspectReply {
    if (!Array.isArray(raw) || (raw.length !== 2 && raw.length !== 6)) throw unexpected(raw);
    const [fence, queued, owner, remaining, count, holderFence] = raw;
    const base = { lastFencingToken: fence == null ? 0 : integer(fence), waiters: integer(queued) };
    if (raw.length === 2) return { ...base, holder: undefined };
    if (typeof owner !== 'string') throw unexpected(raw);
    return {
      ...base,
      holder: {
        owner,
        remainingMs: integer(remaining),
        holdCount: integer(count),
        fencingToken: integer(holderFence),
      },
    };
  },
} as const satisfies LuaScript<ReentrantKeys, never, ReentrantInspectReply>;
