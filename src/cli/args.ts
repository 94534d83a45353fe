/**
 * What every command shares: the defaults of every option (one table), the connection options,
 * and parsing with node:util's parseArgs turned into one-line usage errors.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DEFAULTS } from '../index.js';
import { UsageError } from './exit-codes.js';

/** Every option's default; the README's manual and each `--help` show the same. */
export const CLI_DEFAULTS = Object.freeze({
  /** Used when neither `--url` nor `REDIS_URL` is given. */
  url: 'redis://127.0.0.1:6379',
  prefix: DEFAULTS.prefix,
  /** `auto`: ioredis if it can be loaded, else node-redis (`redis`). */
  client: 'auto',
  ttlMs: DEFAULTS.ttlMs,
  waitMs: DEFAULTS.waitMs,
  /** Between the SIGTERM and the SIGKILL a command gets when the lock is lost. */
  graceMs: 10_000,
  /** How long to wait for the first connection to Redis. */
  connectTimeoutMs: 5_000,
});

export type ClientChoice = 'auto' | 'ioredis' | 'redis';

export interface ConnectionOptions {
  readonly url: string;
  readonly prefix: string;
  readonly client: ClientChoice;
}

/** The options every command that talks to Redis takes. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  prefix: { type: 'string' },
  client: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const CONNECTION_HELP = `connection:
  --url URL        Redis to use (default: $REDIS_URL, else ${CLI_DEFAULTS.url})
  --prefix TEXT    key prefix, as the locker's \`prefix\` option (default: ${CLI_DEFAULTS.prefix})
  --client NAME    ioredis, redis (node-redis) or auto: ioredis if installed (default: auto)
  -h, --help       this text`;

/** True when the arguments (before any `--`) ask for help; checked before anything else. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** parseArgs, strict, with its errors as usage errors that name the command. */
export function parse<Options extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: Options,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: true }>
> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    // parseArgs explains over several lines; errors here are one line each.
    const message = (error as Error).message.replace(/\s*\n\s*/g, ' ');
    throw new UsageError(`latchkey ${command}: ${message}`);
  }
}

/** The one NAME a command takes. */
export function onlyName(command: string, positionals: readonly string[]): string {
  const [name, ...extra] = positionals;
  if (name === undefined || name === '') throw new UsageError(`latchkey ${command}: missing NAME`);
  if (extra.length > 0) {
    throw new UsageError(`latchkey ${command}: unexpected argument "${extra[0]}" after NAME`);
  }
  return name;
}

export function connectionOptions(
  command: string,
  values: { url?: string | undefined; prefix?: string | undefined; client?: string | undefined },
): ConnectionOptions {
  const client = values.client ?? CLI_DEFAULTS.client;
  if (client !== 'auto' && client !== 'ioredis' && client !== 'redis') {
    throw new UsageError(
      `latchkey ${command}: --client must be ioredis, redis or auto (got "${client}")`,
    );
  }
  const url = values.url ?? (process.env.REDIS_URL || CLI_DEFAULTS.url);
  if (!/^rediss?:\/\//.test(url)) {
    throw new UsageError(
      `latchkey ${command}: the Redis URL must start with redis:// or rediss://`,
    );
  }
  return { url, prefix: values.prefix ?? CLI_DEFAULTS.prefix, client };
}

/**
 * A duration option: integer milliseconds within [min, max]; `inf` too where `infinite` allows
 * (a wait with no end).
 */
export function milliseconds(
  command: string,
  option: string,
  text: string | undefined,
  fallback: number,
  { min = 0, max = 2 ** 31 - 1, infinite = false } = {},
): number {
  if (text === undefined) return fallback;
  if (infinite && (text === 'inf' || text === 'infinity')) return Number.POSITIVE_INFINITY;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    const range = `an integer number of milliseconds from ${min} to ${max}${infinite ? ', or inf' : ''}`;
    throw new UsageError(`latchkey ${command}: --${option} must be ${range} (got "${text}")`);
  }
  return value;
}
