/**
 * `latchkey watch NAME`: one line per change of the lock until Ctrl-C, through `locker.observe`,
 * which Redis tells of each change of the holder (where the client can watch keys) instead of a
 * tight poll.
 */

import type { LockState } from '../../index.js';
import { OBSERVE_POLL_MS } from '../../index.js';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionOptions,
  onlyName,
  parse,
} from '../args.js';
import { connect } from '../connect.js';
import { EXIT } from '../exit-codes.js';
import { stateJson } from './inspect.js';

export const WATCH_USAGE = `usage: latchkey watch NAME [--json] [options]

Prints the lock NAME now, then a line for each change until interrupted (Ctrl-C, SIGTERM; exits 0):
acquired, released (free again: released, expired or deleted), holder (another holder, e.g. a
hand-over to a waiter), waiters (the queue grew or shrank). Changes of the holder come by push
from Redis (client-side caching; ioredis, or node-redis v5+), at most one read at a time; the
queue and, without push, everything else are read every ${OBSERVE_POLL_MS} ms and at the holder's expiry.
Changes between two reads show as one.

options:
  --json           one JSON object per line: {"time","event", …inspect --json's fields}
${CONNECTION_HELP}`;

export async function watchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse('watch', args, {
    ...CONNECTION_OPTIONS,
    json: { type: 'boolean' },
  });
  const name = onlyName('watch', positionals);
  const connection = await connect(connectionOptions('watch', values));
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let last: LockState | undefined;
    for await (const state of connection.locker.observe(name, { signal: stop.signal })) {
      const event = eventOf(last, state);
      last = state;
      const time = new Date().toISOString();
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ time, event, ...stateJson(name, state) })}\n`
          : `${time} ${event.padEnd(8)} ${summary(state)}\n`,
      );
    }
    return EXIT.OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await connection.close();
  }
}

function eventOf(before: LockState | undefined, now: LockState): string {
  if (!before) return 'now';
  if (!before.locked && now.locked) return 'acquired';
  if (before.locked && !now.locked) return 'released';
  if (now.locked && before.token !== now.token) return 'holder';
  if (before.waiters !== now.waiters) return 'waiters';
  return 'fencing'; // taken and given back between two reads
}

function summary(state: LockState): string {
  const fencing = `fencing token ${state.lastFencingToken || 'none yet'}`;
  const waiters = `${state.waiters} waiting`;
  if (!state.locked) return `free, last ${fencing}, ${waiters}`;
  return `held by ${state.token}, ${fencing}, expires in ${state.remainingMs} ms, ${waiters}`;
}
