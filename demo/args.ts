/**
 * The demo's command line: `npm run demo -- [--duration s] [--workers n] [--ttl ms]`.
 */
import { parseArgs } from 'node:util';

export interface DemoOptions {
  /** How long the workers contend, in ms. */
  readonly durationMs: number;
  readonly workers: number;
  readonly ttlMs: number;
}

export const USAGE = `usage: npm run demo -- [--duration <seconds>] [--workers <n>] [--ttl <ms>]

  --duration  seconds of contention (default 30; at least the time the two faults need)
  --workers   worker processes contending for the lock (default 5, 3 to 16)
  --ttl       lock ttl in ms (default 1000, 250 to 5000)

Starts its own redis-server on a free loopback port, unless REDIS_URL is set.`;

/** Returns the options, or a message saying what is wrong with the command line. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | { error: string } {
  let values: { duration?: string; workers?: string; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        duration: { type: 'string' },
        workers: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { error: '' };
  try {
    return {
      durationMs: Math.round(numberIn('--duration', values.duration ?? '30', 1, 600) * 1_000),
      workers: numberIn('--workers', values.workers ?? '5', 3, 16, true),
      ttlMs: numberIn('--ttl', values.ttl ?? '1000', 250, 5_000, true),
    };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function numberIn(flag: string, text: string, min: number, max: number, integer = false): number {
  const value = Number(text);
  if (
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(text)})`,
    );
  }
  return value;
}
