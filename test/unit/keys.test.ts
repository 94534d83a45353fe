/**
 * Key and channel names. The multi-key scripts only work in Redis Cluster if every key of one lock
 * hashes to the same slot, so the slot is computed here the way the cluster specification says:
 * CRC16 (XMODEM) of the key's bytes, or of its hash tag, modulo 16384.
 */
import { describe, expect, it } from 'vitest';
import {
  KeyCache,
  mutexKeys,
  releaseTombstoneKey,
  semaphoreKeys,
  wakeChannel,
} from '../../src/backends/redis/keys.js';
import { resolveLockerOptions } from '../../src/options.js';

const SLOTS = 16_384;

/** CRC16-CCITT in the XMODEM variant: polynomial 0x1021, initial value 0, no reflection. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/**
 * The bytes that decide a key's slot: those between the first `{` and the first `}` after it, if
 * there are any; otherwise (no `{`, no `}` after it, or `{}`) the whole key.
 */
function hashTag(key: Uint8Array): Uint8Array {
  const open = key.indexOf(0x7b);
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

function slot(key: string): number {
  return crc16(hashTag(Buffer.from(key, 'utf8'))) % SLOTS;
}

/** The slots of a lock's keys, a release tombstone's included. */
function slotsOf(prefix: string, name: string): Set<number> {
  const keys = mutexKeys(prefix, name);
  return new Set([...Object.values(keys), releaseTombstoneKey(keys, 'a'.repeat(32))].map(slot));
}

describe('keys › the slot function of this test', () => {
  it('matches the cluster specification test vector', () => {
    // "The CRC16 of '123456789' is 0x31C3" (Redis Cluster specification, appendix A).
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it.each([
    // Replies of CLUSTER KEYSLOT from redis-server 7.0.15 started with --cluster-enabled yes.
    ['foo', 12_182],
    ['bar', 5_061],
    ['somekey', 11_058],
    ['123456789', 12_739],
    ['ä€😀', 2_315],
    ['{user1000}.following', 3_443],
    ['foo{}{bar}', 8_363],
    ['foo{{bar}}zap', 4_015],
    ['foo{bar}{zap}', 5_061],
    ['a{}b', 13_694],
    ['latchkey:{orders}:fence', 105],
    ['latchkey:{mixed{😀}tag}:queue', 16_113],
    ['latchkey:{}orders}', 656],
    ['latchkey:{}orders}:fence', 15_754],
  ])('slot(%j) = %i, as Redis computes it', (key, expected) => {
    expect(slot(key)).toBe(expected);
  });

  it('hashes the whole key when the tag is empty or unclosed', () => {
    expect(hashTag(Buffer.from('a{}b'))).toEqual(Buffer.from('a{}b'));
    expect(hashTag(Buffer.from('a{b'))).toEqual(Buffer.from('a{b'));
    expect(hashTag(Buffer.from('a}b{c}'))).toEqual(Buffer.from('c'));
  });
});

describe('semaphoreKeys', () => {
  it('names the holders and companions under the prefix, in the name’s hash slot', () => {
    const keys = semaphoreKeys('latchkey:', 'pool');
    expect(keys).toEqual({
      lock: 'latchkey:{pool}:sem',
      permits: 'latchkey:{pool}:sem:permits',
      limit: 'latchkey:{pool}:sem:limit',
      fence: 'latchkey:{pool}:sem:fence',
      queue: 'latchkey:{pool}:sem:queue',
      waiters: 'latchkey:{pool}:sem:waiters',
    });
    const all = [...Object.values(keys), releaseTombstoneKey(keys, 'a'.repeat(32))];
    expect(new Set(all.map(slot)).size).toBe(1);
    expect(slot(keys.lock)).toBe(slot(mutexKeys('latchkey:', 'pool').lock));
  });

  it('never shares a key with the mutex of the same name', () => {
    for (const name of ['pool', 'a:sem', 'x}{y', '%7B']) {
      const mutex = new Set(Object.values(mutexKeys('p:', name)));
      for (const key of Object.values(semaphoreKeys('p:', name)))
        expect(mutex.has(key)).toBe(false);
    }
  });
});

describe('mutexKeys', () => {
  it('names the lock and its companions under the prefix, with the name as hash tag', () => {
    expect(mutexKeys('latchkey:', 'orders')).toEqual({
      lock: 'latchkey:{orders}',
      fence: 'latchkey:{orders}:fence',
      queue: 'latchkey:{orders}:queue',
      waiters: 'latchkey:{orders}:waiters',
    });
  });

  it('gives every key of a lock a distinct name', () => {
    const keys = Object.values(mutexKeys('latchkey:', 'orders'));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toHaveLength(4);
  });

  it('spreads locks over slots by name when neither prefix nor name has braces', () => {
    for (const name of ['orders', 'user:42', 'jobs/nightly', 'ä€😀']) {
      expect(slot(mutexKeys('latchkey:', name).lock)).toBe(
        crc16(Buffer.from(name, 'utf8')) % SLOTS,
      );
    }
    const spread = new Set(
      Array.from({ length: 200 }, (_, i) => slot(mutexKeys('latchkey:', `n${i}`).lock)),
    );
    expect(spread.size).toBeGreaterThan(190);
  });

  const prefixes = ['latchkey:', '', '€:', 'app:tenant-1:', 'x'];
  const names = [
    'orders',
    'a',
    'user:{42}',
    '{}',
    'a{b}c',
    'a}b',
    'x{',
    '{',
    'ä',
    '€uro',
    '😀 lock',
    'mixed{😀}tag',
    'n'.repeat(1024),
    ' ',
  ];

  it.each(prefixes.flatMap((prefix) => names.map((name) => [prefix, name] as const)))(
    'puts all keys of prefix %j, name %j in one slot',
    (prefix, name) => {
      expect(slotsOf(prefix, name).size).toBe(1);
    },
  );

  // A name starting with `}` would close the tag at once and leave it empty; braces in names are
  // percent-encoded inside the tag, so this cannot happen.
  it.each([
    ['latchkey:', '}'],
    ['latchkey:', '}orders'],
    ['', '}{x}'],
  ])('puts all keys of prefix %j, name %j in one slot', (prefix, name) => {
    expect(slotsOf(prefix, name).size).toBe(1);
  });

  it('keeps names that differ only by braces or percent signs apart', () => {
    const names = ['a{b', 'a%7Bb', 'a}b', 'a%7Db', 'a%b', 'a%25b'];
    const locks = new Set(names.map((name) => mutexKeys('p:', name).lock));
    expect(locks.size).toBe(names.length);
  });

  // A prefix with braces would make the first hash tag its own (or an empty one); options reject it.
  it.each([['app{}:'], ['{}'], ['a{b}:'], ['}']])('rejects prefix %j', (prefix) => {
    expect(() => resolveLockerOptions({ prefix })).toThrow(
      expect.objectContaining({ code: 'ERR_LOCK_INVALID_ARGUMENT', argument: 'prefix' }),
    );
  });
});

describe('wakeChannel', () => {
  it('is latchkey-prefixed and names the locker', () => {
    expect(wakeChannel('l1')).toBe('latchkey:wake:l1');
    expect(wakeChannel('abc').startsWith('latchkey:')).toBe(true);
  });

  it('differs per locker', () => {
    expect(wakeChannel('a')).not.toBe(wakeChannel('b'));
  });
});

describe('KeyCache', () => {
  it('returns the same keys as mutexKeys, and the same object for a name seen before', () => {
    const cache = new KeyCache('p:', mutexKeys);
    const first = cache.get('orders:42');
    expect(first).toEqual(mutexKeys('p:', 'orders:42'));
    expect(cache.get('orders:42')).toBe(first);
  });

  it('keeps at most its capacity, dropping the oldest name first', () => {
    const cache = new KeyCache('p:', mutexKeys, 2);
    const a = cache.get('a');
    const b = cache.get('b');
    cache.get('c'); // evicts a
    expect(cache.get('b')).toBe(b);
    const againA = cache.get('a'); // rebuilt, evicts b
    expect(againA).not.toBe(a);
    expect(againA).toEqual(a);
    expect(cache.get('b')).not.toBe(b);
  });
});
