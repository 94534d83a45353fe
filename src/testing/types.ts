import type { RedisAdapter } from '../backends/redis/adapter.js';

/** A connection to a Redis server made through the adapter under test. */
export interface ConnectedAdapter {
  readonly adapter: RedisAdapter;
  /** Closes the client the adapter wraps. */
  close(): Promise<void>;
}

/** Connects an adapter to the Redis server at `url` (`redis://host:port`). */
export type ConnectAdapter = (url: string) => Promise<ConnectedAdapter>;
