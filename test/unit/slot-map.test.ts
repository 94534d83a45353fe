import { describe, expect, it } from 'vitest';
import {
  isRedirect,
  mapAddress,
  parseClusterSlots,
} from '../../src/backends/redis/adapters/slot-map.js';

describe('parseClusterSlots', () => {
  it('reads each range and its master, ignoring node ids and replicas', () => {
    const raw = [
      [0, 5460, ['127.0.0.1', 7000, 'id-a'], ['127.0.0.1', 7003, 'id-d']],
      [5461, 16383, ['10.0.0.2', 7001, 'id-b']],
    ];
    expect(parseClusterSlots(raw)).toEqual([
      { first: 0, last: 5460, host: '127.0.0.1', port: 7000 },
      { first: 5461, last: 16383, host: '10.0.0.2', port: 7001 },
    ]);
  });

  it('refuses a reply that is not a slot map, and a master without an address', () => {
    expect(() => parseClusterSlots('OK')).toThrow(/unexpected CLUSTER SLOTS reply/);
    expect(() => parseClusterSlots([[0, 16383, ['', 7000]]])).toThrow(/unexpected CLUSTER SLOTS/);
    expect(() => parseClusterSlots([[0, 'x', ['h', 7000]]])).toThrow(/unexpected CLUSTER SLOTS/);
  });
});

describe('mapAddress', () => {
  it('keeps the announced address without a map or without an entry for it', () => {
    expect(mapAddress(undefined, '10.0.0.1', 7000)).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(mapAddress({}, '10.0.0.1', 7000)).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(mapAddress(() => null, '10.0.0.1', 7000)).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(mapAddress(() => undefined, '10.0.0.1', 7000)).toEqual({ host: '10.0.0.1', port: 7000 });
  });

  it('looks "host:port" up in an object map (ioredis natMap, node-redis nodeAddressMap)', () => {
    const map = { '10.0.0.1:7000': { host: 'nat.example', port: 17000 } };
    expect(mapAddress(map, '10.0.0.1', 7000)).toEqual({ host: 'nat.example', port: 17000 });
    expect(mapAddress(map, '10.0.0.1', 7001)).toEqual({ host: '10.0.0.1', port: 7001 });
  });

  it('asks a function map with "host:port"', () => {
    const asked: string[] = [];
    const map = (address: string) => {
      asked.push(address);
      return { host: '127.0.0.1', port: 20000 };
    };
    expect(mapAddress(map, '10.0.0.3', 7002)).toEqual({ host: '127.0.0.1', port: 20000 });
    expect(asked).toEqual(['10.0.0.3:7002']);
  });
});

describe('isRedirect', () => {
  it('is true for MOVED and ASK errors only', () => {
    expect(isRedirect(new Error('MOVED 3999 127.0.0.1:7001'))).toBe(true);
    expect(isRedirect(new Error('ASK 3999 127.0.0.1:7001'))).toBe(true);
    expect(isRedirect(new Error('ERR unknown command'))).toBe(false);
    expect(isRedirect('MOVED 1 h:1')).toBe(false);
  });
});
