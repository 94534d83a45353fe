/**
 * What a failed backend command leaves behind, told to the backend-neutral code: whether repeating
 * it can help, and, for a command that timed out, when it really settles (it may still run).
 * Backends mark their errors here; the acquire loop, held locks and clean-ups read the marks.
 */
import { LockClientClosedError, LockKeyConflictError, LockUnsupportedError } from '../errors.js';

const permanentErrors = new WeakSet<Error>();
const pendingCommands = new WeakMap<Error, Promise<void>>();

/** Marks `error` as one that repeating its command cannot cure. */
export function markPermanent(error: Error): void {
  permanentErrors.add(error);
}

/** Records that `error`'s command timed out and settles (never rejects) with `settles`. */
export function markPending(error: Error, settles: Promise<void>): void {
  pendingCommands.set(error, settles);
}

/**
 * True for an error that repeating the command cannot cure (a closed client, an unsupported
 * server, missing permissions, a failing script): callers fail at once instead of retrying.
 */
export function isPermanentError(error: unknown): boolean {
  return (
    error instanceof LockClientClosedError ||
    error instanceof LockUnsupportedError ||
    error instanceof LockKeyConflictError ||
    (error instanceof Error && permanentErrors.has(error))
  );
}

/**
 * For an error of a command that timed out: a promise that settles (never rejects) when the
 * command itself does, since it may still run on the server. Undefined when the command settled.
 */
export function pendingCommand(error: unknown): Promise<void> | undefined {
  return error instanceof Error ? pendingCommands.get(error) : undefined;
}
