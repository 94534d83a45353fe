/**
 * Diagnostic, not part of `npm run bench`: where an acquire+release goes, per library, in one
 * process against its own redis-server. Prints client CPU per operation (process.cpuUsage) and the
 * lock server's time in EVALSHA per operation (commandstats usec), for sequential pairs and for
 * 256 concurrent keys. Profile with `node --cpu-prof --import tsx bench/probes/client-cost.ts`.
 *
 *   npx tsx bench/probes/client-cost.ts [lib,lib,…] [ms per many-keys run]
 */
import { startRedis } from '../../test/helpers/redis-server.js';
import { nowUs } from '../clock.js';
import { isLibraryId, loadLibrary } from '../libs/index.js';
import { runManyKeys } from '../tasks/many-keys.js';
import { runPairs } from '../tasks/pairs.js';

const ids = (process.argv[2] ?? 'latchkey-ioredis,raw').split(',').filter(isLibraryId);
const manyKeysMs = Number(process.argv[3] ?? 2_000);
const server = await startRedis();

async function evalshaUsec(): Promise<number> {
  const info = String(await server.command('INFO', 'commandstats'));
  return Number(/^cmdstat_evalsha:calls=\d+,usec=(\d+)/m.exec(info)?.[1] ?? 0);
}

try {
  for (const id of ids) {
    const client = await (await loadLibrary(id)).open(server.url);
    await runPairs(client, 'probe:warmup', 500, 10_000);

    await server.command('CONFIG', 'RESETSTAT');
    let cpu = process.cpuUsage();
    const pairs = await runPairs(client, 'probe:pairs', 3_000, 10_000);
    cpu = process.cpuUsage(cpu);
    const pairUsec = await evalshaUsec();
    const sortedPairs = [...pairs.pairUs].sort((a, b) => a - b);
    const sortedPings = [...pairs.pingUs].sort((a, b) => a - b);
    const p50 = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    console.log(
      `${id} pairs: p50 ${p50(sortedPairs)} µs, PING p50 ${p50(sortedPings)} µs, client CPU ${((cpu.user + cpu.system) / 3_000).toFixed(1)} µs per pair+PING, EVALSHA ${(pairUsec / 3_000).toFixed(1)} µs per pair`,
    );

    await server.command('CONFIG', 'RESETSTAT');
    cpu = process.cpuUsage();
    const startAtUs = nowUs();
    const keys = await runManyKeys(client, {
      kind: 'many-keys',
      keyPrefix: 'probe:keys',
      tasks: 256,
      startAtUs,
      endAtUs: startAtUs + manyKeysMs * 1_000,
      ttlMs: 10_000,
    });
    cpu = process.cpuUsage(cpu);
    const keysUsec = await evalshaUsec();
    console.log(
      `${id} many keys: ${Math.round(keys.ops / (keys.elapsedUs / 1e6))} ops/s, client CPU ${((cpu.user + cpu.system) / keys.ops).toFixed(1)} µs/op, EVALSHA ${(keysUsec / keys.ops).toFixed(1)} µs/op`,
    );
    await client.close();
  }
} finally {
  await server.stop();
}
