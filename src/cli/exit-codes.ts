/**
 * The `latchkey` command's exit codes, in one table (the README's manual lists the same). 124, 126
 * and 127 mean what they mean for timeout(1) and the shell; 64 and 69 are sysexits' usage and
 * unavailable. `lock` otherwise exits with its command's code, or 128 + n after signal n.
 */
export const EXIT = Object.freeze({
  OK: 0,
  /** `release --force --token T`: another token holds the lock; nothing was released. */
  NOT_RELEASED: 1,
  /** Bad arguments: unknown command or option, a missing name, a value out of range. */
  USAGE: 64,
  /** No Redis client library installed, Redis unreachable, or Redis failed a command. */
  UNAVAILABLE: 69,
  /** Something latchkey did not expect (a bug): the message says what. */
  SOFTWARE: 70,
  /** `lock`: the lock was not acquired within `--wait`. */
  TIMEOUT: 124,
  /** `lock`: the lock was lost while the command ran; the command was stopped. */
  LOST: 125,
  /** `lock`: the command was found but could not be run (permission). */
  CANNOT_RUN: 126,
  /** `lock`: the command was not found. */
  NOT_FOUND: 127,
  /** Added to a signal's number when the command (or latchkey while waiting) died of it. */
  SIGNAL_BASE: 128,
});

/** A failure the command reports on one line of stderr and exits with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments: the message names what is wrong; `--help` says the rest. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.USAGE);
    this.name = 'UsageError';
  }
}
