/**
 * Observability without dependencies: events on `node:diagnostics_channel` and debug text through
 * `NODE_DEBUG=latchkey`. Subscribing costs nothing when nobody listens.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const CHANNELS = {
  /** `{ name, token, fencingToken, waitedMs }` when a lock is acquired. */
  acquire: 'latchkey:lock:acquire',
  /** `{ name, token, outcome }` when a release finished. */
  release: 'latchkey:lock:release',
  /** `{ name, token, reason }` when a held lock is known lost. */
  lost: 'latchkey:lock:lost',
} as const;

const channels = {
  acquire: diagnosticsChannel.channel(CHANNELS.acquire),
  release: diagnosticsChannel.channel(CHANNELS.release),
  lost: diagnosticsChannel.channel(CHANNELS.lost),
};

/** True when someone listens to `event`; check it before building a message on a hot path. */
export function observed(event: keyof typeof CHANNELS): boolean {
  return channels[event].hasSubscribers;
}

export function publish(event: keyof typeof CHANNELS, message: object): void {
  const channel = channels[event];
  if (channel.hasSubscribers) channel.publish(message);
}

export const debug = debuglog('latchkey');
