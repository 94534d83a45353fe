/** `latchkey inspect NAME`: the lock's holder, time left, last fencing token and queue, once. */
import type { LockState } from '../../index.js';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionOptions,
  onlyName,
  parse,
} from '../args.js';
import { connect } from '../connect.js';
import { EXIT } from '../exit-codes.js';

export const INSPECT_USAGE = `usage: latchkey inspect NAME [--json] [options]

Shows the lock NAME as Redis has it now, without changing it: whether it is held, the holder's
token (random per acquisition), the ms until it expires unless refreshed, the last fencing token
issued for NAME (0 if none yet), and how many waiters are queued (a waiter that died recently may
still count). --json prints one object: {"name","locked","token","remainingMs","lastFencingToken",
"waiters"}, with token null when free.

options:
  --json           one JSON object instead of text
${CONNECTION_HELP}`;

export async function inspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse('inspect', args, {
    ...CONNECTION_OPTIONS,
    json: { type: 'boolean' },
  });
  const name = onlyName('inspect', positionals);
  const connection = await connect(connectionOptions('inspect', values));
  try {
    const state = await connection.locker.inspect(name);
    process.stdout.write(
      values.json ? `${JSON.stringify(stateJson(name, state))}\n` : describeState(name, state),
    );
    return EXIT.OK;
  } finally {
    await connection.close();
  }
}

/** The lock's state as `--json` prints it (also `watch --json`, with an event). */
export function stateJson(name: string, state: LockState) {
  return {
    name,
    locked: state.locked,
    token: state.token ?? null,
    remainingMs: state.remainingMs,
    lastFencingToken: state.lastFencingToken,
    waiters: state.waiters,
  };
}

function describeState(name: string, state: LockState): string {
  const rows: [string, string][] = [
    ['lock', name],
    ['state', state.locked ? 'held' : 'free'],
  ];
  if (state.locked) {
    rows.push(['holder', state.token ?? '?'], ['expires in', `${state.remainingMs} ms`]);
  }
  rows.push(
    ['last fencing token', state.lastFencingToken ? String(state.lastFencingToken) : 'none yet'],
    ['waiters', String(state.waiters)],
  );
  return rows.map(([label, value]) => `${`${label}:`.padEnd(20)}${value}\n`).join('');
}
