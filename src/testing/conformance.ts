/** The conformance suite's entry: one file per concern, registered in this order. */

import { registerBadInputTests } from './bad-input.js';
import { createSuiteContext } from './context.js';
import { registerElectionTests } from './election.js';
import type { KindSuiteContext } from './kind-helpers.js';
import { registerLifecycleTests } from './lifecycle.js';
import { registerMultiTests } from './multi.js';
import { registerMutexAcquireTests } from './mutex-acquire.js';
import { registerMutexHoldTests } from './mutex-hold.js';
import { registerMutexReleaseTests } from './mutex-release.js';
import { registerProcessTests, startWorker } from './processes.js';
import { registerReadWriteTests } from './read-write.js';
import { registerRecoveryTests } from './recovery.js';
import { registerReentrantTests } from './reentrant.js';
import { registerSemaphoreTests } from './semaphore.js';
import type { ConformanceTarget, TestApi } from './types.js';

export type { ConformanceTarget, SuiteServer, TestApi, TestBody } from './types.js';

/**
 * Registers the behavioural suite every Redis adapter must pass. latchkey runs it for ioredis and
 * node-redis; a third-party adapter registers it with its own `connect` and test runner.
 *
 * It needs a real, otherwise idle Redis server (it runs FLUSHALL, SCRIPT FLUSH and CLIENT KILL on
 * it). Assertions use `node:assert`, so any runner whose `it` fails on a thrown error works.
 *
 * @example
 * ```ts
 * import { describe, it, beforeAll, afterAll } from 'vitest';
 * import { registerConformanceSuite } from 'latchkey/testing';
 * registerConformanceSuite({ describe, it, beforeAll, afterAll }, {
 *   name: 'my-client',
 *   connect: async (url) => ({ adapter: fromMyClient(url), close: async () => {} }),
 *   server: () => myServerHandle, // { url, command(...args) } of a redis-server you started
 *   worker: { command: process.execPath, args: ['--import', 'tsx', 'test/my-worker.ts'] },
 * });
 * ```
 */
export function registerConformanceSuite(api: TestApi, target: ConformanceTarget): void {
  const ctx = createSuiteContext(target);
  api.describe(`Locker (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerMutexAcquireTests(api, ctx);
    registerMutexHoldTests(api, ctx);
    registerMutexReleaseTests(api, ctx);
    registerBadInputTests(api, ctx);
    registerRecoveryTests(api, ctx);
    registerLifecycleTests(api, ctx);
    if (target.worker) registerProcessTests(api, target, target.worker, () => ctx.server);
  });
  const { worker } = target;
  const kindContext: KindSuiteContext = {
    target: target.name,
    server: () => ctx.server,
    newLocker: ctx.newLocker,
    fresh: ctx.fresh,
    startWorker: worker && ((task) => startWorker(worker, task)),
    scale: target.scale ?? 1,
  };
  api.describe(`ReentrantLock (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerReentrantTests(api, kindContext);
  });
  api.describe(`MultiLock (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerMultiTests(api, kindContext);
  });
  api.describe(`Election (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerElectionTests(api, kindContext);
  });
  api.describe(`Semaphore (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerSemaphoreTests(api, kindContext);
  });
  api.describe(`ReadWriteLock (${target.name})`, () => {
    api.beforeAll(() => ctx.open());
    api.afterAll(() => ctx.close());
    registerReadWriteTests(api, kindContext);
  });
}
