/**
 * The Redis client of the command. latchkey itself has no runtime dependency: ioredis and redis
 * (node-redis) are optional peers, so the command loads whichever the user installed, looking from
 * the current directory (the user's project) and then from where latchkey is installed.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createLocker as createIORedisLocker,
  type IORedisClient,
} from '../backends/redis/adapters/ioredis.js';
import {
  createLocker as createNodeRedisLocker,
  type NodeRedisClient,
} from '../backends/redis/adapters/node-redis.js';
import type { Locker } from '../index.js';
import { CLI_DEFAULTS, type ConnectionOptions } from './args.js';
import { CliError, EXIT } from './exit-codes.js';

export interface Connection {
  readonly locker: Locker;
  /** Closes the locker (releasing what it still holds), then the client. Never rejects. */
  close(): Promise<void>;
}

/** What the command uses of an ioredis client. */
interface IORedisLike {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** What the command uses of a node-redis client (v4 to v6). */
interface NodeRedisLike {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

const CLOSE_TIMEOUT_MS = 2_000;

export async function connect(options: ConnectionOptions): Promise<Connection> {
  const order = options.client === 'auto' ? (['ioredis', 'redis'] as const) : [options.client];
  for (const library of order) {
    const module = await load(library);
    if (module === undefined) continue;
    return library === 'ioredis'
      ? connectIORedis(module, options)
      : connectNodeRedis(module, options);
  }
  const wanted =
    options.client === 'auto'
      ? 'needs a Redis client: install ioredis or redis (node-redis) next to latchkey, e.g. `npm install ioredis`'
      : `cannot load ${options.client}: install it next to latchkey (\`npm install ${options.client}\`)`;
  throw new CliError(`latchkey ${wanted}`, EXIT.UNAVAILABLE);
}

/** The library's module namespace, or undefined when it is not installed where we look. */
async function load(library: 'ioredis' | 'redis'): Promise<Record<string, unknown> | undefined> {
  // A file name in the current directory (it need not exist) makes resolution start there.
  for (const from of [join(process.cwd(), 'package.json'), import.meta.url]) {
    let path: string;
    try {
      path = createRequire(from).resolve(library);
    } catch {
      continue;
    }
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  return undefined;
}

/** A named export of a CommonJS module, whether Node's import found it by name or not. */
function exported(module: Record<string, unknown>, name: string): unknown {
  const fallback = module.default as Record<string, unknown> | undefined;
  return module[name] ?? fallback?.[name];
}

async function connectIORedis(
  module: Record<string, unknown>,
  options: ConnectionOptions,
): Promise<Connection> {
  const Redis = (exported(module, 'Redis') ?? module.default) as
    | (new (
        url: string,
        options: object,
      ) => IORedisLike)
    | undefined;
  if (typeof Redis !== 'function') throw unsupported('ioredis');
  const client = new Redis(options.url, { lazyConnect: true });
  const lastError = recordErrors(client);
  try {
    await within(client.connect(), CLI_DEFAULTS.connectTimeoutMs);
  } catch (error) {
    client.disconnect();
    throw unreachable(options.url, lastError() ?? error);
  }
  const locker = createIORedisLocker(client as unknown as IORedisClient, {
    prefix: options.prefix,
  });
  return {
    locker,
    close: async () => {
      await locker.close().catch(() => {});
      await within(client.quit(), CLOSE_TIMEOUT_MS).catch(() => client.disconnect());
    },
  };
}

async function connectNodeRedis(
  module: Record<string, unknown>,
  options: ConnectionOptions,
): Promise<Connection> {
  const createClient = exported(module, 'createClient') as
    | ((options: object) => NodeRedisLike)
    | undefined;
  if (typeof createClient !== 'function') throw unsupported('redis');
  // RESP3 lets latchkey watch lock keys by push (loss of the lock, `watch`); v4 ignores it.
  const client = createClient({ url: options.url, RESP: 3 });
  const lastError = recordErrors(client);
  const destroy = () => {
    if (client.destroy) client.destroy();
    else void client.disconnect?.().catch(() => {});
  };
  try {
    await within(client.connect(), CLI_DEFAULTS.connectTimeoutMs);
  } catch (error) {
    destroy();
    throw unreachable(options.url, lastError() ?? error);
  }
  const locker = createNodeRedisLocker(client as unknown as NodeRedisClient, {
    prefix: options.prefix,
  });
  return {
    locker,
    close: async () => {
      await locker.close().catch(() => {});
      const closing = client.close?.() ?? client.quit?.() ?? Promise.resolve();
      await within(closing, CLOSE_TIMEOUT_MS).catch(destroy);
    },
  };
}

/**
 * Keeps the client's connection errors (it reconnects by itself; without a listener they would
 * be printed as unhandled) and returns the way to read the last one.
 */
function recordErrors(client: {
  on(event: 'error', listener: (error: unknown) => void): unknown;
}): () => unknown {
  let last: unknown;
  client.on('error', (error) => {
    last = error;
  });
  return () => last;
}

function unreachable(url: string, error: unknown): CliError {
  return new CliError(
    `latchkey: cannot connect to Redis at ${redact(url)}: ${describe(error)}`,
    EXIT.UNAVAILABLE,
  );
}

function unsupported(library: string): CliError {
  return new CliError(
    `latchkey: the installed ${library} does not look like a supported version`,
    EXIT.UNAVAILABLE,
  );
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}

/** An error's own message, one line. */
export function describe(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.split('\n')[0] ?? text;
}

/** `promise`, or a rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
