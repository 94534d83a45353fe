/**
 * Wraps a RedisAdapter so that every lock script is recorded with the time it was sent and the time
 * it settled. The checker rebuilds each lock's validity from these records on its own, without
 * trusting the library's internal clock arithmetic.
 */
import type {
  CommandDeadline,
  LuaScriptSource,
  RedisAdapter,
} from '../../src/backends/redis/adapter.js';
import { now } from './clock.js';
import type { HistoryEvent, ScriptName } from './events.js';

/** Scripts whose second argument is a ttl in ms. */
const TTL_SCRIPTS = new Set([
  'mutex-acquire',
  'mutex-extend',
  'semaphore-acquire',
  'semaphore-extend',
  'election-extend',
  'reentrant-acquire',
  'reentrant-extend',
]);
const EXTEND_SCRIPTS = new Set([
  'mutex-extend',
  'semaphore-extend',
  'election-extend',
  'reentrant-extend',
]);

/**
 * What the extend script does on the server, read from the Lua text Redis runs (not from the
 * library's code around it): the checker needs it to know where the key's expiry can be after a
 * reply, or after a command whose outcome is unknown.
 */
function extendScript(lua: string) {
  // The mutex's key: PEXPIRE … GT. A semaphore holder's expiry (a zset score): the larger of the
  // old one and now + ttl, and the reply is what is left of it, which is what PTTL would say.
  const neverShortens = /'PEXPIRE'[^\n]*'GT'/i.test(lua) || /math\.max\(score, /.test(lua);
  const repliesRemaining = /'PTTL'/i.test(lua) || /return expiry - nowMs/.test(lua);
  return {
    pexpire: neverShortens ? ('gt' as const) : ('plain' as const),
    reply: repliesRemaining ? ('pttl' as const) : ('flag' as const),
  };
}

export function recordingAdapter(
  inner: RedisAdapter,
  record: (event: HistoryEvent) => void,
): RedisAdapter {
  /**
   * Runs `send` and records it as one command, sent now and settled when it settles; `outcome`
   * says what of its result the checker gets.
   */
  async function recorded<T>(
    script: LuaScriptSource,
    keys: readonly string[],
    args: readonly string[],
    send: () => Promise<T>,
    outcome: (result: T) => { reply: unknown; acknowledged?: number },
  ): Promise<T> {
    const sentAt = now();
    const base = {
      kind: 'command' as const,
      sentAt,
      script: script.name as ScriptName,
      token: args[0] ?? '',
      key: keys[0] ?? '',
      ...(TTL_SCRIPTS.has(script.name) ? { ttlMs: Number(args[1]) } : {}),
      ...(EXTEND_SCRIPTS.has(script.name) ? { extendScript: extendScript(script.lua) } : {}),
    };
    try {
      const result = await send();
      const { reply, acknowledged } = outcome(result);
      record({
        ...base,
        at: now(),
        ok: true,
        reply,
        ...(acknowledged === undefined ? {} : { acknowledged }),
      });
      return result;
    } catch (error) {
      record({ ...base, at: now(), ok: false, error: String(error).slice(0, 200) });
      throw error;
    }
  }

  const runAndWait = inner.runScriptAndWait?.bind(inner);
  return {
    // A Cluster client's adapter says so: latchkey then sends the sharded scripts and wake-ups.
    ...(inner.cluster && { cluster: true }),
    async runScript(
      script: LuaScriptSource,
      keys: readonly string[],
      args: readonly string[],
      deadline?: CommandDeadline,
    ) {
      // The server check touches no lock: nothing for the checker.
      if (script.name === 'server-info') return await inner.runScript(script, keys, args, deadline);
      return await recorded(
        script,
        keys,
        args,
        () => inner.runScript(script, keys, args, deadline),
        (reply) => ({ reply }),
      );
    },
    // The replicas option: the script as above, and what its WAIT reported.
    ...(runAndWait && {
      runScriptAndWait: (
        script: LuaScriptSource,
        keys: readonly string[],
        args: readonly string[],
        deadline: CommandDeadline | undefined,
        replicas: number,
        timeoutMs: number,
      ) =>
        recorded(
          script,
          keys,
          args,
          () => runAndWait(script, keys, args, deadline, replicas, timeoutMs),
          ([reply, acknowledged]) => ({ reply, acknowledged }),
        ),
    }),
    createSubscriber: () => inner.createSubscriber(),
    // Its reads change nothing on the server, so they are not recorded.
    ...(inner.createKeyWatcher && {
      createKeyWatcher: inner.createKeyWatcher.bind(inner),
    }),
  };
}
