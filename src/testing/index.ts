/**
 * The adapter conformance suite and its worker, for third-party adapters: run the same behavioural
 * tests latchkey runs for ioredis and node-redis.
 */

export { sharedNow } from './clock.js';
export {
  type ConformanceTarget,
  registerConformanceSuite,
  type SuiteServer,
  type TestApi,
  type TestBody,
} from './conformance.js';
export type { ConnectAdapter, ConnectedAdapter } from './types.js';
export { runWorker, type WorkerEvent, type WorkerTask } from './worker.js';
