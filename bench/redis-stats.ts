/**
 * Reads what the lock server did: calls per command from INFO commandstats and CPU from INFO cpu,
 * since the last CONFIG RESETSTAT. Every command the harness itself sends to the lock server goes
 * through `command` here and is subtracted, so the counts are the libraries' alone.
 */
import type { RedisServer, RespValue } from '../test/helpers/redis-server.js';

export interface ServerSnapshot {
  /** Calls per command since the reset, harness commands removed; includes calls made by scripts. */
  readonly calls: ReadonlyMap<string, number>;
  /** used_cpu_sys + used_cpu_user since the reset, seconds. */
  readonly cpuSeconds: number;
}

export class ServerStats {
  private own = new Map<string, number>();
  private cpuAtReset = 0;

  constructor(private readonly server: RedisServer) {}

  /** Sends a command to the lock server as the harness, and counts it as the harness's own. */
  async command(...args: (string | number)[]): Promise<RespValue> {
    const name = String(args[0]).toLowerCase();
    const sub = args.length > 1 && SUBCOMMANDS.has(name) ? `|${String(args[1]).toLowerCase()}` : '';
    this.own.set(name + sub, (this.own.get(name + sub) ?? 0) + 1);
    return await this.server.command(...args);
  }

  async reset(): Promise<void> {
    // CPU counters are not reset by RESETSTAT; remember where they stood.
    this.cpuAtReset = parseCpu(String(await this.server.command('INFO', 'cpu')));
    await this.server.command('CONFIG', 'RESETSTAT');
    this.own = new Map([['config|resetstat', 1]]);
  }

  async snapshot(): Promise<ServerSnapshot> {
    // One INFO with both sections: it is not counted in its own output.
    const info = String(await this.server.command('INFO', 'cpu', 'commandstats'));
    const calls = new Map<string, number>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const name = match[1] ?? '';
      const count = Number(match[2]) - (this.own.get(name) ?? 0);
      if (count > 0) calls.set(name, count);
    }
    this.own.set('info', (this.own.get('info') ?? 0) + 1);
    return { calls, cpuSeconds: parseCpu(info) - this.cpuAtReset };
  }
}

const SUBCOMMANDS = new Set(['config', 'script', 'client', 'command', 'memory', 'object']);

function parseCpu(info: string): number {
  const sys = Number(/^used_cpu_sys:([\d.]+)/m.exec(info)?.[1] ?? 0);
  const user = Number(/^used_cpu_user:([\d.]+)/m.exec(info)?.[1] ?? 0);
  return sys + user;
}

export function totalCalls(calls: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const count of calls.values()) total += count;
  return total;
}
