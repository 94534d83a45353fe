/** Small pieces both client adapters need; no client library is imported here. */
import { InvalidArgumentError } from '../../../errors.js';
import type { CommandDeadline } from '../adapter.js';

/** True when Redis answered NOSCRIPT: the script cache no longer has our script. */
export function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Closes a connection politely, and forcefully if the polite way does not finish in `ms`, so a
 * dead server can never keep `close()` (or the process) waiting.
 */
export async function closeWithin(
  ms: number,
  polite: () => Promise<unknown>,
  force: () => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    const outcome = await Promise.race([polite().catch(() => 'failed' as const), timedOut]);
    if (outcome === 'timeout' || outcome === 'failed') force();
  } finally {
    clearTimeout(timer);
  }
}

export const SUBSCRIBER_CLOSE_TIMEOUT_MS = 1_000;

/**
 * Throws InvalidArgumentError unless `client` is an object with every method in `methods`, so a
 * wrong object fails when the locker is made instead of at its first lock.
 */
export function checkClientMethods(
  client: unknown,
  kind: string,
  methods: readonly string[],
): void {
  if (typeof client !== 'object' || client === null) {
    throw new InvalidArgumentError(
      'client',
      `must be ${kind}, got ${client === null ? 'null' : typeof client}`,
    );
  }
  const missing = methods.filter(
    (method) => typeof (client as Record<string, unknown>)[method] !== 'function',
  );
  if (missing.length > 0) {
    throw new InvalidArgumentError('client', `must be ${kind}: it has no ${missing.join(', ')}`);
  }
}

/** The part of a client's event emitter `readyWaiter` uses. */
export interface ReadyEvents {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Before a NOSCRIPT fallback: the caller gave up on this command (and may have cleaned up after
 * it), so a fresh EVAL now could take a lock nobody waits for.
 */
export function throwIfExpired(deadline: CommandDeadline | undefined): void {
  if (deadline?.expired) deadline.signal.throwIfAborted();
}

/**
 * Waits for a client's 'ready' event, bounded by a command's signal, so a command is sent only on
 * a ready connection and never sits in the client's offline queue past its deadline. One listener
 * pair serves every waiting command, however many there are. `closedEvent` (if any) ends the wait
 * with `closed()`.
 */
export function readyWaiter(
  events: ReadyEvents,
  closedEvent: string | undefined,
  closed: () => Error,
): (signal: AbortSignal | undefined) => Promise<void> {
  let ready: Promise<void> | undefined;
  const whenReady = () => {
    ready ??= new Promise<void>((resolve, reject) => {
      const onReady = () => {
        if (closedEvent) events.removeListener(closedEvent, onClosed);
        ready = undefined;
        resolve();
      };
      const onClosed = () => {
        events.removeListener('ready', onReady);
        ready = undefined;
        reject(closed());
      };
      events.once('ready', onReady);
      if (closedEvent) events.once(closedEvent, onClosed);
    });
    return ready;
  };
  return async (signal) => {
    if (!signal) return await whenReady();
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        whenReady(),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  };
}

/**
 * Runs a script whose EVALSHA met NOSCRIPT (after a restart, a failover or SCRIPT FLUSH) without
 * every concurrent caller sending the whole source: the first caller's EVAL loads it, and the
 * others wait for that and try EVALSHA again (EVAL only if the script is still missing). With
 * thousands of waiters one EVAL instead of thousands, each carrying kilobytes of Lua, keeps the
 * clients inside their command timeouts.
 */
export class ScriptLoads {
  readonly #loading = new Map<string, Promise<unknown>>();

  async fallback<T>(
    sha1: string,
    deadline: CommandDeadline | undefined,
    evalScript: () => Promise<T>,
    evalSha: () => Promise<T>,
  ): Promise<T> {
    const loading = this.#loading.get(sha1);
    if (loading) {
      await loading.catch(() => {});
      throwIfExpired(deadline);
      try {
        return await evalSha();
      } catch (error) {
        if (!isNoScriptError(error)) throw error;
        throwIfExpired(deadline);
      }
    }
    const load = evalScript();
    this.#loading.set(sha1, load);
    try {
      return await load;
    } finally {
      if (this.#loading.get(sha1) === load) this.#loading.delete(sha1);
    }
  }
}

/**
 * Runs a script through `run`, which calls its `afterSend` right after each send of the script
 * (and again after a NOSCRIPT fallback's), and sends `WAIT` there through `wait`, so that each WAIT
 * follows the script on the same connection. Resolves with the script's reply and what the last
 * WAIT reported.
 */
export async function runFollowedByWait<Target>(
  run: (afterSend: (target: Target) => void) => Promise<unknown>,
  wait: (target: Target) => Promise<number>,
): Promise<readonly [reply: unknown, acknowledged: number]> {
  const waits: Promise<number>[] = [];
  const reply = await run((target) => {
    const acknowledged = wait(target);
    acknowledged.catch(() => {}); // a WAIT behind a failed send: the script's error is reported
    waits.push(acknowledged);
  });
  return [reply, await (waits[waits.length - 1] ?? 0)];
}
