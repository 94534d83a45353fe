/** What every scenario gets from the harness. */
import type { RedisServer } from '../test/helpers/redis-server.js';
import type { BenchConfig } from './config.js';
import type { LibraryId } from './libs/index.js';
import type { WorkerPool } from './pool.js';
import type { ServerStats } from './redis-stats.js';

export interface BenchContext {
  readonly config: BenchConfig;
  readonly libs: readonly LibraryId[];
  readonly pool: WorkerPool;
  /** The server the locks live on. */
  readonly lockServer: RedisServer;
  /** Counts on the lock server, net of the harness's own commands. */
  readonly stats: ServerStats;
  /** A second server used only for the occupancy counter. */
  readonly checker: RedisServer;
  /** Progress lines, to stderr. */
  log(line: string): void;
}

/** The libraries in a rotating order, so no library always runs first or last in a round. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const shift = round % Math.max(1, items.length);
  return [...items.slice(shift), ...items.slice(0, shift)];
}
