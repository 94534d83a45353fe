/**
 * The conformance suite's admin handle on a Redis Cluster: one `command` that does what the suite
 * means on a single server. A key's command goes to the master that owns the key's slot; a
 * server-wide command (FLUSHALL, CONFIG SET, CLIENT KILL, CLIENT PAUSE, ACL, SCRIPT) goes to
 * every node it applies to; DBSIZE and INFO commandstats add up the masters'.
 */
import { keySlot } from '../../src/backends/redis/key-slot.js';
import type { SuiteServer } from '../../src/testing/types.js';
import type { RedisServer, RespValue } from './redis-server.js';

/** What the cluster harness gives this module: the nodes as they are now. */
export interface ClusterView {
  masters(): Promise<readonly { readonly server: RedisServer }[]>;
  all(): readonly { readonly server: RedisServer }[];
  masterOf(slot: number): Promise<{ readonly server: RedisServer }>;
}

/** Commands whose every argument after the name is a key. */
const ALL_KEYS = new Set(['DEL', 'EXISTS', 'UNLINK', 'TOUCH']);
/** Commands whose first argument is a key. */
const FIRST_KEY = new Set([
  'GET',
  'SET',
  'PTTL',
  'TTL',
  'TYPE',
  'ZCARD',
  'ZADD',
  'ZRANGE',
  'ZSCORE',
  'HSET',
  'HGET',
  'HGETALL',
  'HLEN',
  'INCR',
  'PEXPIRE',
  'PERSIST',
  'OBJECT',
]);
/** Server-wide commands that replicas take too (the rest go to masters only). */
const EVERY_NODE = new Set(['CONFIG', 'CLIENT', 'ACL', 'SCRIPT']);

export function clusterSuiteServer(view: ClusterView, url: string): SuiteServer {
  const onMaster = async (key: string, args: (string | number)[]) =>
    (await view.masterOf(keySlot(key))).server.command(...args);
  const command = async (...args: (string | number)[]): Promise<RespValue> => {
    const name = String(args[0]).toUpperCase();
    if (ALL_KEYS.has(name)) {
      const replies = await Promise.all(
        args.slice(1).map((key) => onMaster(String(key), [name, key])),
      );
      return sum(replies);
    }
    if (name === 'OBJECT') return onMaster(String(args[2]), args);
    if (FIRST_KEY.has(name)) return onMaster(String(args[1]), args);
    if (name === 'TIME') return (await view.masters())[0]?.server.command(...args) ?? null;
    const targets = EVERY_NODE.has(name) ? view.all() : await view.masters();
    const replies = await Promise.all(targets.map(({ server }) => server.command(...args)));
    if (name === 'DBSIZE') return sum(replies);
    if (name === 'INFO') return mergeInfo(replies.map(String));
    const failed = replies.find((reply) => reply instanceof Error);
    return failed ?? replies[0] ?? null;
  };
  return { url, command };
}

function sum(replies: RespValue[]): RespValue {
  const failed = replies.find((reply) => reply instanceof Error);
  return failed ?? replies.reduce<number>((total, reply) => total + Number(reply), 0);
}

/**
 * `INFO` of several servers as one: the calls of each command (commandstats) and the CPU seconds
 * (cpu) added up; other fields are left out.
 */
export function mergeInfo(infos: readonly string[]): string {
  const calls = new Map<string, number>();
  const cpu = { used_cpu_sys: 0, used_cpu_user: 0 };
  for (const info of infos) {
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const name = match[1] ?? '';
      calls.set(name, (calls.get(name) ?? 0) + Number(match[2]));
    }
    for (const field of ['used_cpu_sys', 'used_cpu_user'] as const) {
      cpu[field] += Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    }
  }
  const lines = [
    '# CPU',
    `used_cpu_sys:${cpu.used_cpu_sys}`,
    `used_cpu_user:${cpu.used_cpu_user}`,
    '# Commandstats',
    ...[...calls].map(([name, count]) => `cmdstat_${name}:calls=${count}`),
  ];
  return `${lines.join('\r\n')}\r\n`;
}
