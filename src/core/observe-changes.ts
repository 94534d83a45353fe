/**
 * The loop behind every `observe`: read the state, yield it when it differs from the last one
 * yielded, then sleep until a pushed notice, a look-again time, the caller's signal or the
 * locker's close. One read at a time: notices that arrive during a read make one more read, not
 * one each. A failed read is logged and tried again at the look-again time, never thrown, so an
 * observer outlives a Redis restart.
 */
import { debug } from '../diagnostics.js';

export interface ChangeSource<State> {
  /** What is observed, for debug text. */
  readonly label: string;
  /**
   * Starts the pushed notices; `onChange` may be called at any time, also during a read. Returns
   * what stops them. A rejection ends the observer before its first state.
   */
  watch(onChange: () => void): (() => void | Promise<void>) | Promise<() => void | Promise<void>>;
  read(): Promise<State>;
  /** Whether `b` tells the observer nothing new after `a`. */
  same(a: State, b: State): boolean;
  /**
   * When to read again without a notice, in ms from now: after `last` (the latest state read,
   * undefined before the first), and whether the latest read failed. Undefined: only a notice.
   */
  lookAgainMs(last: State | undefined, readFailed: boolean): number | undefined;
}

export async function* observeChanges<State>(
  source: ChangeSource<State>,
  signal: AbortSignal | undefined,
  closed: AbortSignal,
): AsyncGenerator<State, void, undefined> {
  const ended = () => signal?.aborted === true || closed.aborted;
  if (ended()) return;
  let changed = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    changed = true;
    wake?.();
  };
  const stop = await source.watch(poke);
  const onEnd = () => wake?.();
  signal?.addEventListener('abort', onEnd);
  closed.addEventListener('abort', onEnd);
  let yielded = false;
  let last: State | undefined;
  let readFailed = false;
  try {
    while (!ended()) {
      if (changed) {
        changed = false;
        try {
          const current = await source.read();
          readFailed = false;
          const isNew = !yielded || !source.same(last as State, current);
          // Kept even when nothing changed: its times (a lease's remaining ms) are the fresher.
          last = current;
          if (isNew) {
            yielded = true;
            yield current;
            continue;
          }
        } catch (error) {
          if (ended()) return;
          readFailed = true;
          debug('observing %s: read failed: %o', source.label, error);
        }
      }
      const lookAgainMs = source.lookAgainMs(last, readFailed);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (changed || ended()) resolve();
        else if (lookAgainMs !== undefined) timer = setTimeout(poke, lookAgainMs);
      });
      clearTimeout(timer);
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener('abort', onEnd);
    closed.removeEventListener('abort', onEnd);
    try {
      await stop();
    } catch (error) {
      debug('observing %s: stopping the notices failed: %o', source.label, error);
    }
  }
}
