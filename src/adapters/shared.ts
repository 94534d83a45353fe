/** Small pieces both client adapters need; no client library is imported here. */

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
