/**
 * `latchkey lock NAME -- command…`: runs a command while holding a lock, as `etcdctl lock` does.
 * The lock is kept alive while the command runs, released when it exits, and if it is lost the
 * command is stopped (SIGTERM, SIGKILL after the grace time): its work must not go on unguarded.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import {
  isLockLostError,
  isLockTimeoutError,
  type Lock,
  type Locker,
  MIN_TTL_MS,
} from '../../index.js';
import {
  CLI_DEFAULTS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionOptions,
  milliseconds,
  parse,
} from '../args.js';
import { connect, describe } from '../connect.js';
import { EXIT, UsageError } from '../exit-codes.js';

export const LOCK_USAGE = `usage: latchkey lock NAME [options] -- COMMAND [ARGS…]

Runs COMMAND while holding the lock NAME, and exits with its exit code (128 + n if signal n killed
it). The lock is refreshed while COMMAND runs and released when it exits. COMMAND gets
LATCHKEY_LOCK_NAME and LATCHKEY_FENCING_TOKEN in its environment; pass the fencing token to what it
writes, so a store can refuse a holder that lost the lock. SIGINT, SIGTERM and SIGHUP are passed on
to COMMAND. If the lock is lost, COMMAND gets SIGTERM, then SIGKILL after --grace, and latchkey
exits with ${EXIT.LOST}.

options:
  --ttl MS         lock validity, refreshed every third of it (default: ${CLI_DEFAULTS.ttlMs})
  --wait MS        how long to wait for the lock, or inf (default: ${CLI_DEFAULTS.waitMs})
  --grace MS       from SIGTERM to SIGKILL when the lock is lost (default: ${CLI_DEFAULTS.graceMs})
${CONNECTION_HELP}

exit codes: the command's own; ${EXIT.TIMEOUT} the wait timed out; ${EXIT.LOST} the lock was lost; ${EXIT.CANNOT_RUN} COMMAND cannot run;
${EXIT.NOT_FOUND} COMMAND not found; ${EXIT.USAGE} bad arguments; ${EXIT.UNAVAILABLE} Redis unreachable or failing, or no client installed`;

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Forwarded = (typeof FORWARDED)[number];

interface LockCommand {
  readonly name: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly graceMs: number;
  readonly command: readonly [string, ...string[]];
}

export function parseLock(args: string[]) {
  const separator = args.indexOf('--');
  const own = separator < 0 ? args : args.slice(0, separator);
  const { values, positionals } = parse('lock', own, {
    ...CONNECTION_OPTIONS,
    ttl: { type: 'string' },
    wait: { type: 'string' },
    grace: { type: 'string' },
  });
  const [name, ...extra] = positionals;
  if (name === undefined || name === '') throw new UsageError('latchkey lock: missing NAME');
  if (extra.length > 0) {
    throw new UsageError(`latchkey lock: put -- between NAME and the command ("${extra[0]}")`);
  }
  const [program, ...programArgs] = separator < 0 ? [] : args.slice(separator + 1);
  if (program === undefined || program === '') {
    throw new UsageError('latchkey lock: missing the command to run after --');
  }
  const lock: LockCommand = {
    name,
    ttlMs: milliseconds('lock', 'ttl', values.ttl, CLI_DEFAULTS.ttlMs, { min: MIN_TTL_MS }),
    waitMs: milliseconds('lock', 'wait', values.wait, CLI_DEFAULTS.waitMs, { infinite: true }),
    graceMs: milliseconds('lock', 'grace', values.grace, CLI_DEFAULTS.graceMs),
    command: [program, ...programArgs],
  };
  return { lock, connection: connectionOptions('lock', values) };
}

export async function lockCommand(args: string[]): Promise<number> {
  const { lock: request, connection: options } = parseLock(args);
  const connection = await connect(options);
  // Caught from the first wait to the end: a signal must never find the default action (exit)
  // while the lock is held, or the lock stays behind until its ttl runs out.
  const signals = new SignalRelay();
  try {
    const lock = await acquire(connection.locker, request, signals);
    if (typeof lock === 'number') return lock;
    return await runHolding(lock, request, signals);
  } finally {
    signals.dispose();
    await connection.close();
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP, from construction to dispose(): each goes to the current target (the
 * wait, then the command), and the first is kept. Between targets none is lost: the command, once
 * started, gets each one that came after the check that let it start.
 */
class SignalRelay {
  /** The first signal received. */
  received: Forwarded | undefined;
  #target: ((signal: Forwarded) => void) | undefined;
  readonly #onSignal = (signal: Forwarded) => {
    this.received ??= signal;
    this.#target?.(signal);
  };

  constructor() {
    for (const signal of FORWARDED) process.on(signal, this.#onSignal);
  }

  /** Sends the signals from now on to `target`; undefined: only keeps the first. */
  to(target: ((signal: Forwarded) => void) | undefined): void {
    this.#target = target;
  }

  dispose(): void {
    this.#target = undefined;
    for (const signal of FORWARDED) process.off(signal, this.#onSignal);
  }
}

const exitCodeFor = (signal: Forwarded) => EXIT.SIGNAL_BASE + constants.signals[signal];

/** The lock, or the exit code when it was not acquired (timeout, or a signal while waiting). */
async function acquire(
  locker: Locker,
  request: LockCommand,
  signals: SignalRelay,
): Promise<Lock | number> {
  const stop = new AbortController();
  signals.to(() => stop.abort());
  try {
    return await locker.acquire(request.name, {
      ttlMs: request.ttlMs,
      waitMs: request.waitMs,
      signal: stop.signal,
    });
  } catch (error) {
    if (signals.received) return exitCodeFor(signals.received);
    if (isLockTimeoutError(error)) {
      process.stderr.write(
        `latchkey lock: "${request.name}" is held by someone else; gave up after waiting ${request.waitMs} ms\n`,
      );
      return EXIT.TIMEOUT;
    }
    throw error;
  } finally {
    signals.to(undefined);
  }
}

/** Runs the command under `lock`, then releases it; resolves with the exit code. */
async function runHolding(lock: Lock, request: LockCommand, signals: SignalRelay): Promise<number> {
  const [program, ...programArgs] = request.command;
  // Reading the signal also has the lock's key watched, so a deletion is seen at once.
  const lost = lock.signal;
  if (lost.aborted) {
    process.stderr.write(`latchkey lock: lost the lock "${lock.name}" before the command ran\n`);
    return EXIT.LOST;
  }
  // Asked to stop as the lock came (or just after): the command does not start.
  if (signals.received) {
    await release(lock, request);
    return exitCodeFor(signals.received);
  }
  const child = spawn(program, programArgs, {
    stdio: 'inherit',
    env: {
      ...process.env,
      LATCHKEY_LOCK_NAME: lock.name,
      LATCHKEY_FENCING_TOKEN: String(lock.fencingToken),
    },
  });
  signals.to((signal) => child.kill(signal));
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    const why = isLockLostError(lost.reason) ? lost.reason.reason : describe(lost.reason);
    process.stderr.write(
      `latchkey lock: lost the lock "${lock.name}" (${why}); sending the command SIGTERM\n`,
    );
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), request.graceMs);
  };
  lost.addEventListener('abort', onLost, { once: true });
  let code: number;
  try {
    code = await new Promise<number>((resolve) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        // Only a failure to start ends the wait: a failed kill of a running child emits this too.
        if (child.pid !== undefined) return;
        process.stderr.write(`latchkey lock: cannot run ${program}: ${describe(error)}\n`);
        resolve(error.code === 'ENOENT' ? EXIT.NOT_FOUND : EXIT.CANNOT_RUN);
      });
      child.once('exit', (exitCode, signal) => {
        resolve(exitCode ?? EXIT.SIGNAL_BASE + (signal ? constants.signals[signal] : 0));
      });
    });
  } finally {
    lost.removeEventListener('abort', onLost);
    clearTimeout(killTimer);
    // Signals that come while the lock is released are kept, not acted on: the release is bounded.
    signals.to(undefined);
  }
  if (lost.aborted) return EXIT.LOST;
  await release(lock, request);
  return code;
}

async function release(lock: Lock, request: LockCommand): Promise<void> {
  try {
    await lock.release();
  } catch (error) {
    // The command is done (or never ran); the lock expires within its ttl anyway.
    process.stderr.write(
      `latchkey lock: releasing "${lock.name}" failed (${describe(error)}); it expires within ${request.ttlMs} ms\n`,
    );
  }
}
