/**
 * Every Lua script's contract header agrees with its body, with the generated module and with its
 * TypeScript descriptor; and each descriptor decodes the replies the script can give (and only
 * those). No Redis here: the scripts' behaviour is tested against real servers elsewhere.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandIncludes, includedNames } from '../../scripts/lua-include.js';
import {
  type ElectionKeys,
  electionKeys,
  type LockKeys,
  type MutexKeys,
  mutexKeys,
  type ReentrantKeys,
  reentrantKeys,
  releaseTombstoneKey,
  type SemaphoreKeys,
  semaphoreKeys,
} from '../../src/backends/redis/keys.js';
import {
  electionExtend,
  electionLeader,
  electionProclaim,
  electionResign,
} from '../../src/backends/redis/scripts/election.js';
import { LUA_SOURCES } from '../../src/backends/redis/scripts/generated.js';
import {
  FENCE_KEEP_MS,
  GRANT_CLAIM_MS,
  mutexAcquire,
  mutexExtend,
  mutexInspect,
  mutexRelease,
  QUEUE_MODE,
  serverInfo,
} from '../../src/backends/redis/scripts/index.js';
import {
  reentrantAcquire,
  reentrantExtend,
  reentrantInspect,
  reentrantRelease,
} from '../../src/backends/redis/scripts/reentrant.js';
import {
  semaphoreAcquire,
  semaphoreExtend,
  semaphoreInspect,
  semaphoreReduce,
  semaphoreRelease,
} from '../../src/backends/redis/scripts/semaphore.js';

const luaDir = fileURLToPath(new URL('../../src/backends/redis/scripts/lua/', import.meta.url));
const files = readdirSync(luaDir)
  .filter((file) => file.endsWith('.lua'))
  .sort();

interface Documented {
  /** Index → the header's text after `KEYS[i]` / `ARGV[i]`. */
  readonly keys: Map<number, string>;
  readonly argv: Map<number, string>;
  /** Entries documented more than once, e.g. `KEYS[2]`. */
  readonly twice: string[];
}

interface Script {
  readonly file: string;
  readonly name: string;
  readonly source: string;
  readonly header: string[];
  readonly body: string;
  readonly documented: Documented;
}

/** The leading run of `--` lines is the contract header; everything after it is the body. */
function parseScript(file: string, source: string): Script {
  const lines = source.split('\n');
  const headerEnd = lines.findIndex((line) => !line.startsWith('--'));
  const header = headerEnd === -1 ? lines : lines.slice(0, headerEnd);
  const body = headerEnd === -1 ? '' : lines.slice(headerEnd).join('\n');
  const documented: Documented = { keys: new Map(), argv: new Map(), twice: [] };
  for (const line of header) {
    const entry = /^--\s*(KEYS|ARGV)\[(\d+)\]\s*(.*)$/.exec(line);
    if (!entry) continue;
    const table = entry[1] === 'KEYS' ? documented.keys : documented.argv;
    const index = Number(entry[2]);
    if (table.has(index)) documented.twice.push(`${entry[1]}[${index}]`);
    table.set(index, entry[3] ?? '');
  }
  return { file, name: file.replace(/\.lua$/, ''), source, header, body, documented };
}

function readScript(file: string): Script {
  return parseScript(file, readFileSync(`${luaDir}${file}`, 'utf8'));
}

/**
 * Lua code with comments removed and string literals emptied, so that only real uses of KEYS and
 * ARGV remain. Handles '…' and "…" with escapes, [[…]] / [==[…]==] long strings and --[[…]] comments.
 */
function codeOnly(lua: string): string {
  let out = '';
  let i = 0;
  const longBracket = (at: number): number => {
    const match = /^\[(=*)\[/.exec(lua.slice(at));
    return match ? (match[1] as string).length : -1;
  };
  const skipLong = (at: number, level: number): number => {
    const close = `]${'='.repeat(level)}]`;
    const end = lua.indexOf(close, at + level + 2);
    return end === -1 ? lua.length : end + close.length;
  };
  while (i < lua.length) {
    const char = lua[i] as string;
    if (lua.startsWith('--', i)) {
      const level = longBracket(i + 2);
      if (level >= 0) {
        i = skipLong(i + 2, level);
      } else {
        const newline = lua.indexOf('\n', i);
        i = newline === -1 ? lua.length : newline;
      }
    } else if (char === "'" || char === '"') {
      let j = i + 1;
      while (j < lua.length && lua[j] !== char && lua[j] !== '\n') j += lua[j] === '\\' ? 2 : 1;
      out += `${char}${char}`;
      i = j + 1;
    } else if (char === '[' && longBracket(i) >= 0) {
      i = skipLong(i, longBracket(i));
      out += '""';
    } else {
      out += char;
      i += 1;
    }
  }
  return out;
}

/** The indices `code` reads from KEYS or ARGV, in ascending order. */
function used(code: string, table: 'KEYS' | 'ARGV'): number[] {
  const indices = new Set<number>();
  for (const match of code.matchAll(new RegExp(`\\b${table}\\[(\\d+)\\]`, 'g'))) {
    indices.add(Number(match[1]));
  }
  return [...indices].sort((a, b) => a - b);
}

const scripts = files.map(readScript);

describe('lua › the helpers of this test', () => {
  it('strip comments and strings but keep code', () => {
    const lua = [
      'local a = KEYS[1] -- ARGV[9] in a comment',
      'local b = \'KEYS[8]\' .. "ARGV[7] \\" still a string" .. ARGV[2]',
      '--[[ KEYS[6]',
      'ARGV[5] ]] local c = [==[ KEYS[4] ]==] .. KEYS[3]',
    ].join('\n');
    const code = codeOnly(lua);
    expect(used(code, 'KEYS')).toEqual([1, 3]);
    expect(used(code, 'ARGV')).toEqual([2]);
  });

  it('split header from body and see what a drifted header gets wrong', () => {
    const drifted = parseScript(
      'drifted.lua',
      [
        '-- drifted: a header that no longer matches its body.',
        '-- KEYS[1] lock key',
        '-- KEYS[3] queue key',
        '-- KEYS[3] queue key, again',
        '-- ARGV[1] token',
        '-- Reply: 1',
        "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])",
      ].join('\n'),
    );
    expect(drifted.header).toHaveLength(6);
    expect([...drifted.documented.keys.keys()]).toEqual([1, 3]);
    expect(drifted.documented.twice).toEqual(['KEYS[3]']);
    expect(used(codeOnly(drifted.body), 'KEYS')).toEqual([1]);
    expect(used(codeOnly(drifted.body), 'ARGV')).toEqual([1, 2]);
  });
});

describe('lua › every script', () => {
  it('there are scripts to check, and the generated module has exactly these', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(LUA_SOURCES).sort()).toEqual(scripts.map((script) => script.name));
  });

  it('the fencing counter lives as long in the scripts as the library says', () => {
    const fence = readFileSync(`${luaDir}include/fence.lua`, 'utf8');
    expect(/^local FENCE_KEEP_MS = (\d+)$/m.exec(fence)?.[1]).toBe(String(FENCE_KEEP_MS));
  });

  it('the claim window of a mutex grant is as long in the script as the library says', () => {
    for (const file of ['mutex-release.lua', 'include/semaphore.lua']) {
      const lua = readFileSync(`${luaDir}${file}`, 'utf8');
      expect(/^local CLAIM_MS = (\d+)$/m.exec(lua)?.[1], file).toBe(String(GRANT_CLAIM_MS));
    }
  });
});

describe.each(scripts)('lua › $file', (script) => {
  const { keys, argv } = script.documented;
  const code = codeOnly(script.body);

  it('opens with its own name and a summary', () => {
    expect(script.header[0]).toMatch(new RegExp(`^-- ${script.name}: \\S`));
  });

  it('documents each KEYS and ARGV entry once', () => {
    expect(script.documented.twice).toEqual([]);
  });

  it('documents KEYS[1..n] contiguously, at least one unless it says it takes none', () => {
    if (keys.size === 0) expect(script.header.join('\n')).toMatch(/^-- No KEYS\b/m);
    expect([...keys.keys()]).toEqual(Array.from({ length: keys.size }, (_, i) => i + 1));
  });

  it('documents ARGV[1..m] contiguously', () => {
    expect([...argv.keys()]).toEqual(Array.from({ length: argv.size }, (_, i) => i + 1));
  });

  it('mentions no KEYS or ARGV index in its header prose that it does not document', () => {
    const header = script.header.join('\n');
    for (const index of used(header, 'KEYS')) expect(keys.has(index)).toBe(true);
    for (const index of used(header, 'ARGV')) expect(argv.has(index)).toBe(true);
  });

  it('uses exactly the KEYS indices its header documents', () => {
    expect(used(code, 'KEYS')).toEqual([...keys.keys()]);
  });

  it('uses exactly the ARGV indices its header documents', () => {
    expect(used(code, 'ARGV')).toEqual([...argv.keys()]);
  });

  it('reads KEYS and ARGV only by literal index', () => {
    // `#ARGV`, `unpack(KEYS)` or `KEYS[i]` would hide what the script touches from the header.
    const bare = [...code.matchAll(/\b(KEYS|ARGV)\b(?!\[\d+\])/g)].map((match) => match[0]);
    expect(bare).toEqual([]);
  });

  it('documents its replies', () => {
    const replies = script.header.findIndex((line) => /^--\s*Repl(y|ies)\s*:/.test(line));
    expect(replies).toBeGreaterThan(-1);
    const described = script.header
      .slice(replies)
      .join('\n')
      .replace(/^--\s*Repl(y|ies)\s*:/, '');
    expect(described.replace(/[-\s]/g, '').length).toBeGreaterThan(0);
  });

  it('is in the generated module with its includes expanded, its sha1 and key count', () => {
    const generated = LUA_SOURCES[script.name as keyof typeof LUA_SOURCES];
    const expanded = expandIncludes(script.source, luaDir);
    expect(generated.name).toBe(script.name);
    expect(generated.lua).toBe(expanded);
    expect(generated.lua).not.toMatch(/^-- @include/m);
    expect(generated.sha1).toBe(createHash('sha1').update(expanded).digest('hex'));
    expect(generated.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(generated.numberOfKeys).toBe(keys.size);
  });
});

const includeDir = `${luaDir}include/`;
const includeFiles = readdirSync(includeDir).filter((file) => file.endsWith('.lua'));

describe('lua › includes', () => {
  it('every @include names a file in lua/include, and every file there is included', () => {
    const named = new Set(scripts.flatMap((script) => includedNames(script.source)));
    expect([...named].sort()).toEqual(
      includeFiles.map((file) => file.replace(/\.lua$/, '')).sort(),
    );
  });

  it.each(includeFiles)(
    '%s opens with its name, reads no KEYS or ARGV and includes nothing',
    (file) => {
      const source = readFileSync(`${includeDir}${file}`, 'utf8');
      expect(source.split('\n')[0]).toMatch(
        new RegExp(`^-- include/${file.replace(/\.lua$/, '')}: \\S`),
      );
      const code = codeOnly(source);
      expect(used(code, 'KEYS')).toEqual([]);
      expect(used(code, 'ARGV')).toEqual([]);
      expect(includedNames(source)).toEqual([]);
    },
  );
});

/** Sample arguments for each descriptor, and what its `args()` must encode them as. */
const mutex: MutexKeys = mutexKeys('p:', 'n');
const semaphore: SemaphoreKeys = semaphoreKeys('p:', 'n');
const reentrant: ReentrantKeys = reentrantKeys('p:', 'n');
const election: ElectionKeys = electionKeys('p:', 'n');

const descriptors: readonly {
  readonly name: keyof typeof LUA_SOURCES;
  readonly script: { readonly lua: string; readonly sha1: string; readonly numberOfKeys: number };
  /** The keys object the descriptor is given, and the keys it passes. */
  readonly given: LockKeys;
  readonly keys: () => string[];
  readonly args: () => string[];
  readonly encoded: readonly string[];
}[] = [
  {
    name: 'mutex-acquire',
    script: mutexAcquire,
    given: mutex,
    keys: () => mutexAcquire.keys(mutex),
    args: () =>
      mutexAcquire.args({
        token: 'a'.repeat(32),
        ttlMs: 10_000,
        queueMode: QUEUE_MODE.join,
        sleepCapMs: 2500,
        graceMs: 300,
        channel: 'latchkey:wake:l1',
        attempt: 3,
        polls: false,
        queueLifeMs: 22_000,
      }),
    encoded: ['a'.repeat(32), '10000', '1', '2500', '300', 'latchkey:wake:l1', '3', '0', '22000'],
  },
  {
    name: 'mutex-release',
    script: mutexRelease,
    given: mutex,
    keys: () => mutexRelease.keys(mutex, { token: 'b'.repeat(32), withdraw: true }),
    args: () => mutexRelease.args({ token: 'b'.repeat(32), withdraw: true, tombstoneMs: 1_999.5 }),
    encoded: ['b'.repeat(32), '1', '2000'],
  },
  {
    name: 'mutex-extend',
    script: mutexExtend,
    given: mutex,
    keys: () => mutexExtend.keys(mutex),
    args: () => mutexExtend.args({ token: 'c'.repeat(32), ttlMs: 777 }),
    encoded: ['c'.repeat(32), '777'],
  },
  {
    name: 'mutex-inspect',
    script: mutexInspect,
    given: mutex,
    keys: () => mutexInspect.keys(mutex),
    args: () => mutexInspect.args(),
    encoded: [],
  },
  {
    name: 'server-info',
    script: serverInfo,
    given: mutex,
    keys: () => serverInfo.keys(),
    args: () => serverInfo.args(),
    encoded: [],
  },
  {
    name: 'semaphore-acquire',
    script: semaphoreAcquire,
    given: semaphore,
    keys: () => semaphoreAcquire.keys(semaphore),
    args: () =>
      semaphoreAcquire.args({
        token: 'a'.repeat(32),
        ttlMs: 10_000,
        queueMode: QUEUE_MODE.queued,
        sleepCapMs: 2500,
        graceMs: 300,
        channel: 'latchkey:wake:l1',
        attempt: 4,
        polls: true,
        queueLifeMs: 22_000,
        limit: 5,
        permits: 2,
      }),
    encoded: [
      'a'.repeat(32),
      '10000',
      '2',
      '2500',
      '300',
      'latchkey:wake:l1',
      '4',
      '1',
      '22000',
      '5',
      '2',
    ],
  },
  {
    name: 'semaphore-release',
    script: semaphoreRelease,
    given: semaphore,
    keys: () => semaphoreRelease.keys(semaphore, { token: 'b'.repeat(32), withdraw: false }),
    args: () => semaphoreRelease.args({ token: 'b'.repeat(32), withdraw: false, tombstoneMs: 50 }),
    encoded: ['b'.repeat(32), '0', '50'],
  },
  {
    name: 'semaphore-extend',
    script: semaphoreExtend,
    given: semaphore,
    keys: () => semaphoreExtend.keys(semaphore),
    args: () => semaphoreExtend.args({ token: 'c'.repeat(32), ttlMs: 777 }),
    encoded: ['c'.repeat(32), '777'],
  },
  {
    name: 'semaphore-reduce',
    script: semaphoreReduce,
    given: semaphore,
    keys: () => semaphoreReduce.keys(semaphore),
    args: () => semaphoreReduce.args({ token: 'd'.repeat(32), permits: 1 }),
    encoded: ['d'.repeat(32), '1'],
  },
  {
    name: 'reentrant-acquire',
    script: reentrantAcquire,
    given: reentrant,
    keys: () => reentrantAcquire.keys(reentrant),
    args: () =>
      reentrantAcquire.args({
        token: 'a'.repeat(32),
        ttlMs: 10_000,
        queueMode: QUEUE_MODE.queued,
        sleepCapMs: 2500,
        graceMs: 300,
        channel: 'latchkey:wake:l1',
        attempt: 4,
        polls: true,
        queueLifeMs: 22_000,
        owner: 'job-42',
      }),
    encoded: [
      'a'.repeat(32),
      '10000',
      '2',
      '2500',
      '300',
      'latchkey:wake:l1',
      '4',
      '1',
      '22000',
      'job-42',
    ],
  },
  {
    name: 'reentrant-release',
    script: reentrantRelease,
    given: reentrant,
    keys: () => reentrantRelease.keys(reentrant, { token: 'b'.repeat(32), withdraw: true }),
    args: () => reentrantRelease.args({ token: 'b'.repeat(32), withdraw: true, tombstoneMs: 7 }),
    encoded: ['b'.repeat(32), '1', '7'],
  },
  {
    name: 'reentrant-extend',
    script: reentrantExtend,
    given: reentrant,
    keys: () => reentrantExtend.keys(reentrant),
    args: () => reentrantExtend.args({ token: 'c'.repeat(32), ttlMs: 500 }),
    encoded: ['c'.repeat(32), '500'],
  },
  {
    name: 'reentrant-inspect',
    script: reentrantInspect,
    given: reentrant,
    keys: () => reentrantInspect.keys(reentrant),
    args: () => reentrantInspect.args(),
    encoded: [],
  },
  {
    name: 'election-proclaim',
    script: electionProclaim,
    given: election,
    keys: () => electionProclaim.keys(election),
    args: () =>
      electionProclaim.args({
        token: 'a'.repeat(32),
        fencingToken: 12,
        value: 'host a',
        channel: election.changes,
      }),
    encoded: ['a'.repeat(32), '12', 'host a', election.changes],
  },
  {
    name: 'election-extend',
    script: electionExtend,
    given: election,
    keys: () => electionExtend.keys(election),
    args: () => electionExtend.args({ token: 'a'.repeat(32), ttlMs: 900 }),
    encoded: ['a'.repeat(32), '900'],
  },
  {
    name: 'election-resign',
    script: electionResign,
    given: election,
    keys: () => electionResign.keys(election),
    args: () => electionResign.args({ token: 'a'.repeat(32), channel: election.changes }),
    encoded: ['a'.repeat(32), election.changes],
  },
  {
    name: 'election-leader',
    script: electionLeader,
    given: election,
    keys: () => electionLeader.keys(election),
    args: () => electionLeader.args(),
    encoded: [],
  },
  {
    name: 'semaphore-inspect',
    script: semaphoreInspect,
    given: semaphore,
    keys: () => semaphoreInspect.keys(semaphore),
    args: () => semaphoreInspect.args(),
    encoded: [],
  },
];

describe('lua › descriptors', () => {
  it('cover every script', () => {
    expect(descriptors.map((d) => d.name).sort()).toEqual(scripts.map((s) => s.name));
  });
});

describe.each(descriptors)('lua › descriptor of $name', (descriptor) => {
  const script = scripts.find((s) => s.name === descriptor.name) as Script;
  const keys = descriptor.given;

  it('carries the generated source', () => {
    const generated = LUA_SOURCES[descriptor.name];
    expect(descriptor.script.lua).toBe(generated.lua);
    expect(descriptor.script.sha1).toBe(generated.sha1);
    expect(descriptor.script.numberOfKeys).toBe(generated.numberOfKeys);
  });

  it('passes numberOfKeys keys, in the order the header documents them', () => {
    const passed = descriptor.keys();
    expect(passed).toHaveLength(descriptor.script.numberOfKeys);
    expect(passed).toHaveLength(script.documented.keys.size);
    // The release's tombstone belongs to the token released ('b'.repeat(32) above).
    const roles: Record<string, string> = {
      ...keys,
      tombstone: releaseTombstoneKey(keys, 'b'.repeat(32)),
    };
    for (const [index, text] of script.documented.keys) {
      // Each header entry starts with the role: "lock key", "fence key", …
      const role = /^(\w+) key\b/.exec(text)?.[1];
      expect(role, `KEYS[${index}] of ${script.file} names its role`).toBeDefined();
      expect(roles[role as string], `KEYS[${index}] role ${role} is known`).toBeDefined();
      expect(passed[index - 1]).toBe(roles[role as string]);
    }
  });

  it('encodes as many ARGV strings as the header documents', () => {
    const encoded = descriptor.args();
    expect(encoded).toHaveLength(script.documented.argv.size);
    expect(encoded).toEqual(descriptor.encoded);
    for (const value of encoded) expect(typeof value).toBe('string');
  });
});

describe('lua › queue modes', () => {
  it('match the values mutex-acquire.lua documents for ARGV[3]', () => {
    const acquire = scripts.find((s) => s.name === 'mutex-acquire') as Script;
    const header = acquire.header.join('\n');
    expect(acquire.documented.argv.get(3)).toMatch(/^queue mode/);
    for (const value of Object.values(QUEUE_MODE)) expect(header).toContain(`"${value}":`);
    expect(new Set(Object.values(QUEUE_MODE)).size).toBe(3);
  });
});

/** Replies no script can give: each parse must throw a plain Error on them. */
const malformedScalars: readonly unknown[] = [
  null,
  undefined,
  'OK',
  'one',
  1.5,
  Number.NaN,
  true,
  {},
  [1],
  [],
];

describe('lua › mutexAcquire.parse', () => {
  it.each([
    [[1, 7], { kind: 'acquired', fencingToken: 7 }],
    [['1', '7'], { kind: 'acquired', fencingToken: 7 }],
    [[1, 9_007_199_254_740_991], { kind: 'acquired', fencingToken: 9_007_199_254_740_991 }],
    [[0, 1500], { kind: 'held', pttlMs: 1500, requeued: false }],
    [[0, 0], { kind: 'held', pttlMs: 0, requeued: false }],
    [
      [0, 800, 1, 1_796_363_218_773_177],
      { kind: 'held', pttlMs: 800, requeued: true, serverTimeUs: 1_796_363_218_773_177 },
    ],
    [[0, 800, 0, 5], { kind: 'held', pttlMs: 800, requeued: false, serverTimeUs: 5 }],
    [[-1, 1], { kind: 'conflict', detail: 'a string without expiry' }],
    [[-1, 2], { kind: 'conflict', detail: 'a string that is not a latchkey token' }],
  ])('decodes %j', (raw, reply) => {
    expect(mutexAcquire.parse(raw)).toEqual(reply);
  });

  it.each([
    null,
    undefined,
    1,
    'OK',
    [],
    [1],
    [1, 2, 3],
    [0, 2, 0],
    [0, 2, 2],
    [1, 2, 1],
    [0, 2, 1],
    [0, 2, 2, 1],
    [1, 2, 1, 1],
    [0, 2, 1, 'x'],
    [1, 'x'],
    [1, 1.5],
    [null, 1],
    [1, null],
    ['acquired', 1],
    { 0: 1, 1: 2, length: 2 },
  ])('rejects %j', (raw) => {
    expect(() => mutexAcquire.parse(raw)).toThrow(/unexpected script reply/);
  });

  it('rejects a status the script cannot return', () => {
    expect(() => mutexAcquire.parse([5, 1])).toThrow(/unexpected script reply/);
  });
});

describe('lua › mutexRelease.parse', () => {
  it.each([
    [2, 'handed-over'],
    [1, 'released'],
    [0, 'missing'],
    [-1, 'other-token'],
    ['2', 'handed-over'],
  ])('decodes %j', (raw, reply) => {
    expect(mutexRelease.parse(raw)).toBe(reply);
  });

  it.each(malformedScalars)('rejects %j', (raw) => {
    expect(() => mutexRelease.parse(raw)).toThrow(/unexpected script reply/);
  });

  it('rejects a status the script cannot return', () => {
    expect(() => mutexRelease.parse(42)).toThrow(/unexpected script reply/);
  });
});

describe('lua › mutexExtend.parse', () => {
  it.each([
    [10_000, { kind: 'extended', pttlMs: 10_000 }],
    [100, { kind: 'extended', pttlMs: 100 }],
    ['9873', { kind: 'extended', pttlMs: 9873 }],
    [0, { kind: 'missing' }],
    [-1, { kind: 'other-token' }],
  ])('decodes %j', (raw, reply) => {
    expect(mutexExtend.parse(raw)).toEqual(reply);
  });

  it.each(malformedScalars)('rejects %j', (raw) => {
    expect(() => mutexExtend.parse(raw)).toThrow(/unexpected script reply/);
  });

  it.each([-2, -100])('rejects a negative reply the script cannot give: %j', (raw) => {
    expect(() => mutexExtend.parse(raw)).toThrow(/unexpected script reply/);
  });
});

describe('lua › mutexInspect.parse', () => {
  const token = 'd'.repeat(32);

  it.each([
    [[null, -2, null, 0], { value: null, pttlMs: -2, lastFencingToken: 0, queued: 0 }],
    [[null, -2, '41', 0], { value: null, pttlMs: -2, lastFencingToken: 41, queued: 0 }],
    [[token, 4500, '12', 3], { value: token, pttlMs: 4500, lastFencingToken: 12, queued: 3 }],
    [
      [`~${token}`, 900, 12, '2'],
      { value: `~${token}`, pttlMs: 900, lastFencingToken: 12, queued: 2 },
    ],
    [[undefined, -2, undefined, 0], { value: null, pttlMs: -2, lastFencingToken: 0, queued: 0 }],
  ])('decodes %j', (raw, reply) => {
    expect(mutexInspect.parse(raw)).toEqual(reply);
  });

  it.each([
    null,
    'OK',
    4,
    [],
    [null, -2, null],
    [null, -2, null, 0, 0],
    [null, 'x', null, 0],
    [null, -2, 'abc', 0],
    [null, -2, '1.5', 0],
    [null, -2, null, null],
    [token, null, '1', 0],
  ])('rejects %j', (raw) => {
    expect(() => mutexInspect.parse(raw)).toThrow(/unexpected script reply/);
  });
});

describe('lua › semaphore descriptors decode', () => {
  it.each([
    [[1, 7], { kind: 'acquired', fencingToken: 7 }],
    [[0, 1500], { kind: 'held', pttlMs: 1500, requeued: false }],
    [[0, 800, 1, 7], { kind: 'held', pttlMs: 800, requeued: true, serverTimeUs: 7 }],
    [[-2, 4], { kind: 'limit-mismatch', limit: 4 }],
  ])('semaphoreAcquire %j', (raw, reply) => {
    expect(semaphoreAcquire.parse(raw)).toEqual(reply);
  });

  it.each([null, 1, [], [1], [-2, 0], [-1, 1], [2, 1], [0, 2, 0]])(
    'semaphoreAcquire refuses %j',
    (raw) => {
      expect(() => semaphoreAcquire.parse(raw)).toThrow(/unexpected script reply/);
    },
  );

  it('semaphoreRelease, semaphoreExtend', () => {
    expect([2, 1, 0].map((raw) => semaphoreRelease.parse(raw))).toEqual([
      'handed-over',
      'released',
      'missing',
    ]);
    expect(() => semaphoreRelease.parse(-1)).toThrow(/unexpected/);
    expect(semaphoreExtend.parse(900)).toEqual({ kind: 'extended', pttlMs: 900 });
    expect(semaphoreExtend.parse(0)).toEqual({ kind: 'missing' });
    expect(() => semaphoreExtend.parse(-1)).toThrow(/unexpected/);
  });

  it('election descriptors', () => {
    expect([1, 0].map((raw) => electionProclaim.parse(raw))).toEqual(['proclaimed', 'missing']);
    expect(() => electionProclaim.parse(2)).toThrow(/unexpected/);
    expect(electionExtend.parse(800)).toEqual({ kind: 'extended', pttlMs: 800 });
    expect(electionExtend.parse(0)).toEqual({ kind: 'missing' });
    expect(electionExtend.parse(-1)).toEqual({ kind: 'other-token' });
    expect([1, 0].map((raw) => electionResign.parse(raw))).toEqual([true, false]);
    expect(electionLeader.parse([])).toBeUndefined();
    expect(electionLeader.parse(['t', 4, 900, 'host a'])).toEqual({
      token: 't',
      fencingToken: 4,
      remainingMs: 900,
      value: 'host a',
    });
    for (const raw of [null, ['t', 4, 900], ['t', 4, 900, 5], [1, 4, 900, 'v']]) {
      expect(() => electionLeader.parse(raw)).toThrow(/unexpected/);
    }
  });

  it('reentrant descriptors', () => {
    expect(reentrantAcquire.parse([1, 9, 2])).toEqual({
      kind: 'acquired',
      fencingToken: 9,
      holdCount: 2,
    });
    expect(reentrantAcquire.parse([0, 300])).toEqual({
      kind: 'held',
      pttlMs: 300,
      requeued: false,
    });
    expect(reentrantAcquire.parse([0, 300, 1, 42])).toEqual({
      kind: 'held',
      pttlMs: 300,
      requeued: true,
      serverTimeUs: 42,
    });
    for (const raw of [null, [1, 9], [1, 9, 0], [0, 1, 1], [0, 1, 2, 5], [2, 1, 1], [-1, 1]]) {
      expect(() => reentrantAcquire.parse(raw)).toThrow(/unexpected/);
    }
    expect([3, 2, 1, 0].map((raw) => reentrantRelease.parse(raw))).toEqual([
      'released',
      'handed-over',
      'released',
      'missing',
    ]);
    expect(() => reentrantRelease.parse(4)).toThrow(/unexpected/);
    expect(reentrantExtend.parse(5)).toEqual({ kind: 'extended', pttlMs: 5 });
    expect(reentrantExtend.parse(0)).toEqual({ kind: 'missing' });
    expect(reentrantInspect.parse([null, 0])).toEqual({
      lastFencingToken: 0,
      waiters: 0,
      holder: undefined,
    });
    expect(reentrantInspect.parse([7, 1, 'job', 900, 2, 7])).toEqual({
      lastFencingToken: 7,
      waiters: 1,
      holder: { owner: 'job', remainingMs: 900, holdCount: 2, fencingToken: 7 },
    });
    for (const raw of [[1], [1, 2, 3], [1, 2, 3, 4, 5, 6], null]) {
      expect(() => reentrantInspect.parse(raw)).toThrow(/unexpected/);
    }
  });

  it('semaphoreReduce: any count of grants is reduced; growing a hold is a bug, not a state', () => {
    expect([0, 3].map((raw) => semaphoreReduce.parse(raw))).toEqual(['reduced', 'reduced']);
    expect(semaphoreReduce.parse(-1)).toBe('missing');
    for (const raw of [-2, null, 'x', [1]]) {
      expect(() => semaphoreReduce.parse(raw)).toThrow(/unexpected/);
    }
  });

  it('semaphoreInspect', () => {
    expect(semaphoreInspect.parse([null, null, 0])).toEqual({
      limit: null,
      lastFencingToken: 0,
      waiters: 0,
      holders: [],
    });
    expect(semaphoreInspect.parse([3, 12, 2, 'a', 900, 2, 11, 'b', 1200, 1, 12])).toEqual({
      limit: 3,
      lastFencingToken: 12,
      waiters: 2,
      holders: [
        { token: 'a', remainingMs: 900, permits: 2, fencingToken: 11 },
        { token: 'b', remainingMs: 1200, permits: 1, fencingToken: 12 },
      ],
    });
    for (const raw of [null, [1, 2], [1, 2, 3, 'a'], [1, 2, 3, 4, 5, 6, 7]]) {
      expect(() => semaphoreInspect.parse(raw)).toThrow(/unexpected/);
    }
  });
});
