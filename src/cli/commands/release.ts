/**
 * `latchkey release --force NAME`: an operator's takeover of a lock whose holder is stuck. It runs
 * the holder's own release for the holder's token (`locker.forceRelease`), so the lock goes to the
 * next waiter with a larger fencing token, exactly as after a normal release.
 */
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionOptions,
  onlyName,
  parse,
} from '../args.js';
import { connect } from '../connect.js';
import { EXIT, UsageError } from '../exit-codes.js';

export const RELEASE_USAGE = `usage: latchkey release --force NAME [--token TOKEN] [options]

Ends the current hold of the lock NAME, whoever holds it: for a holder that is stuck or gone
while its lock is being refreshed. Refuses without --force. It is the holder's own release, run
for the holder's token in one script: the lock goes to the next waiter in line, which gets a
larger fencing token, or is left free; fencing tokens never go back. The old holder learns of the
loss at its next refresh (at once where its key is watched), and a \`latchkey lock\` holding it
stops its command; but work that neither checks for the loss nor passes its fencing token on is
not stopped: that is what fencing tokens are for.

options:
  --force          required: you mean to end another process's hold
  --token TOKEN    only if TOKEN (as \`inspect\` shows it) still holds the lock; exit ${EXIT.NOT_RELEASED} if another does
${CONNECTION_HELP}

exit codes: 0 released, or nobody held it; ${EXIT.NOT_RELEASED} another token holds it (with --token, or a
hand-over came between the read and the release); ${EXIT.USAGE} bad arguments or no --force; ${EXIT.UNAVAILABLE} Redis failing`;

export async function releaseCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse('release', args, {
    ...CONNECTION_OPTIONS,
    force: { type: 'boolean' },
    token: { type: 'string' },
  });
  const name = onlyName('release', positionals);
  if (!values.force) {
    throw new UsageError(
      `latchkey release: refusing to end another process's hold of "${name}" without --force`,
    );
  }
  const connection = await connect(connectionOptions('release', values));
  try {
    const result = await connection.locker.forceRelease(
      name,
      values.token === undefined ? {} : { token: values.token },
    );
    switch (result.outcome) {
      case 'released':
        process.stdout.write(
          `released "${name}" (holder ${result.token})${result.handedOver ? '; handed to the next waiter' : '; it is free'}\n`,
        );
        return EXIT.OK;
      case 'free':
        process.stdout.write(`"${name}" was not held\n`);
        return EXIT.OK;
      case 'taken':
        process.stderr.write(
          `latchkey release: "${name}" is held by ${result.token ?? 'another token'}, not released\n`,
        );
        return EXIT.NOT_RELEASED;
    }
  } finally {
    await connection.close();
  }
}
