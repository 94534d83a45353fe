import type { RedisAdapter } from '../backends/redis/adapter.js';

/** A connection to a Redis server made through the adapter under test. */
export interface ConnectedAdapter {
  readonly adapter: RedisAdapter;
  /** Closes the client the adapter wraps. */
  close(): Promise<void>;
}

/** Connects an adapter to the Redis server at `url` (`redis://host:port`). */
export type ConnectAdapter = (url: string) => Promise<ConnectedAdapter>;

/** A test or hook body: the suite's are async, a runner may be given sync ones. */
export type TestBody = () => unknown | Promise<unknown>;

/** The test runner's functions the suite uses (vitest, jest, node:test and mocha all fit). */
export interface TestApi {
  /** Groups the tests `body` registers under `name`. */
  describe(name: string, body: () => void): unknown;
  /** Registers a test; it fails when `body` throws or rejects. */
  it(name: string, body: TestBody, timeoutMs?: number): unknown;
  /** Runs `body` once before the tests of the enclosing `describe`. */
  beforeAll(body: TestBody, timeoutMs?: number): unknown;
  /** Runs `body` once after the tests of the enclosing `describe`. */
  afterAll(body: TestBody, timeoutMs?: number): unknown;
}

/** The Redis server the suite runs against, started and stopped by the caller. */
export interface SuiteServer {
  /** `redis://host:port` of a dedicated test server. */
  readonly url: string;
  /** Sends an admin command without going through the adapter under test. */
  command(...args: (string | number)[]): Promise<unknown>;
}

/** The adapter under test, for {@link registerConformanceSuite}: how to connect it, and to what. */
export interface ConformanceTarget {
  /** Shown in test names: `Locker (name) › …`. */
  readonly name: string;
  readonly connect: ConnectAdapter;
  /** The server to test against; called inside `beforeAll`, after the runner started it. */
  readonly server: () => SuiteServer;
  /** How to start a worker process that calls `runWorker(connect)`; multi-process tests need it. */
  readonly worker?: { readonly command: string; readonly args: readonly string[] };
  /** Scales the multi-process test sizes (1 = the documented 8 processes × 200 acquisitions). */
  readonly scale?: number;
}
