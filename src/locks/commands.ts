/**
 * Runs lock scripts through the adapter with a per-command timeout, and turns what Redis says into
 * latchkey errors in one place.
 */
import type { RedisAdapter } from '../adapter.js';
import { LockBackendError, LockKeyConflictError } from '../errors.js';
import type { MutexKeys } from '../keys.js';
import type { LuaScript } from '../scripts/index.js';
import { withTimeout } from '../time.js';

const KEY_CONFLICT = /^(WRONGTYPE|ERR value is not an integer)/;

export class ScriptRunner {
  constructor(
    private readonly adapter: RedisAdapter,
    private readonly timeoutMs: number,
  ) {}

  /** The per-command timeout, for callers that budget several steps against it. */
  get commandTimeoutMs(): number {
    return this.timeoutMs;
  }

  /**
   * Runs `script`; rejects with LockBackendError after `timeoutMs` (default: the command timeout).
   * A command that timed out may still run on the server later.
   */
  async run<Args, Reply>(
    script: LuaScript<Args, Reply>,
    keys: MutexKeys,
    args: Args,
    timeoutMs: number = this.timeoutMs,
  ): Promise<Reply> {
    let raw: unknown;
    try {
      raw = await withTimeout(
        this.adapter.runScript(script, script.keys(keys, args), script.args(args)),
        Math.max(1, timeoutMs),
      );
    } catch (error) {
      throw toLockError(error, script.name, keys);
    }
    try {
      return script.parse(raw);
    } catch (error) {
      throw new LockBackendError(`${script.name}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function toLockError(error: unknown, scriptName: string, keys: MutexKeys): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (KEY_CONFLICT.test(message)) {
    return new LockKeyConflictError(keys.lock, message.split('\n')[0] ?? message, { cause: error });
  }
  return new LockBackendError(`${scriptName} failed: ${message}`, { cause: error });
}
