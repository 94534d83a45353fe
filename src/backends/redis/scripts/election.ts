/** Typed descriptors of the election's own scripts (lua/election-*.lua); it acquires as a mutex. */
import type { ExtendReply } from '../../../core/backend.js';
import type { ElectionKeys } from '../keys.js';
import { LUA_SOURCES } from './generated.js';
import { encodeExtend, integer, type LuaScript, parseExtend, unexpected } from './index.js';

export const electionProclaim = {
  ...LUA_SOURCES['election-proclaim'],
  keys: (k: ElectionKeys) => [k.lock, k.value],
  args: (a: { token: string; fencingToken: number; value: string; channel: string }) => [
    a.token,
    String(a.fencingToken),
    a.value,
    a.channel,
  ],
  parse(raw: unknown): 'proclaimed' | 'missing' {
    const status = integer(raw);
    if (status === 1) return 'proclaimed';
    if (status === 0) return 'missing';
    throw unexpected(raw);
  },
} as const satisfies LuaScript<ElectionKeys, never, 'proclaimed' | 'missing'>;

export const electionExtend = {
  ...LUA_SOURCES['election-extend'],
  keys: (k: ElectionKeys) => [k.lock, k.value],
  args: encodeExtend,
  parse: parseExtend,
} as const satisfies LuaScript<ElectionKeys, never, ExtendReply>;

export const electionResign = {
  ...LUA_SOURCES['election-resign'],
  keys: (k: ElectionKeys) => [k.value],
  args: (a: { token: string; channel: string }) => [a.token, a.channel],
  parse(raw: unknown): boolean {
    const status = integer(raw);
    if (status === 1 || status === 0) return status === 1;
    throw unexpected(raw);
  },
} as const satisfies LuaScript<ElectionKeys, never, boolean>;

export interface LeaderReply {
  readonly token: string;
  readonly fencingToken: number;
  readonly remainingMs: number;
  readonly value: string;
}

export const electionLeader = {
  ...LUA_SOURCES['election-leader'],
  keys: (k: ElectionKeys) => [k.lock, k.value],
  args: () => [],
  parse(raw: unknown): LeaderReply | undefined {
    if (!Array.isArray(raw)) throw unexpected(raw);
    if (raw.length === 0) return undefined;
    const [token, fence, remaining, value] = raw;
    if (raw.length !== 4 || typeof token !== 'string' || typeof value !== 'string') {
      throw unexpected(raw);
    }
    return { token, fencingToken: integer(fence), remainingMs: integer(remaining), value };
  },
} as const satisfies LuaScript<ElectionKeys, never, LeaderReply | undefined>;
