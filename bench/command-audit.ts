/**
 * Tells top-level commands (sent by clients) from commands that scripts call. INFO commandstats
 * counts both alike, so for each library the harness watches a short contended run through
 * MONITOR, which marks script-issued commands with `[<db> lua]`, and learns per command name which
 * share is sent by clients. Applying those shares to a measured run's commandstats gives its
 * top-level count. Where a library sends each command name only one way (in the full run of
 * 2026-11-21 that held for every library here: see `commandAudit` in the JSON) the count is exact.
 */
import { createConnection } from 'node:net';

export interface CommandOrigins {
  /** Per command name (lowercase, without subcommand): calls from clients and from scripts. */
  readonly [name: string]: { readonly client: number; readonly script: number };
}

/** Watches `port` through MONITOR while `during` runs, counting commands by origin. */
export async function auditCommands(
  port: number,
  during: () => Promise<void>,
  host = '127.0.0.1',
): Promise<CommandOrigins> {
  const origins: Record<string, { client: number; script: number }> = {};
  const socket = createConnection({ port, host });
  let pending = '';
  let started!: () => void;
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let end = pending.indexOf('\r\n');
    while (end >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 2);
      end = pending.indexOf('\r\n');
      if (line === '+OK') {
        started();
        continue;
      }
      const match = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!match) continue;
      const name = (match[2] ?? '').toLowerCase();
      const entry = origins[name] ?? { client: 0, script: 0 };
      origins[name] = entry;
      if (match[1] === 'lua') entry.script++;
      else entry.client++;
    }
  });
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  socket.write('MONITOR\r\n');
  await Promise.race([ready, failed]);
  try {
    await during();
  } finally {
    socket.destroy();
  }
  return origins;
}

/**
 * Top-level calls in `calls` (from commandstats): each command name's calls times the share sent by
 * clients in the audit. Names the audit never saw count as client-sent.
 */
export function topLevelCalls(
  calls: ReadonlyMap<string, number>,
  origins: CommandOrigins | undefined,
): number {
  let total = 0;
  for (const [fullName, count] of calls) {
    const seen = origins?.[fullName.split('|')[0] ?? fullName];
    const seenTotal = seen ? seen.client + seen.script : 0;
    total += seen && seenTotal > 0 ? (count * seen.client) / seenTotal : count;
  }
  return total;
}
