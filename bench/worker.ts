/**
 * A benchmark worker process: started by the harness with an IPC channel, it opens one library at
 * a time and runs the tasks it is sent, replying with raw measurements. Started as
 * `node --expose-gc --import tsx bench/worker.ts`.
 */
import { CLUSTER_SCHEME } from './libs/connections.js';
import { isLibraryId, loadLibrary } from './libs/index.js';
import type { LockClient } from './libs/types.js';
import type { Reply, Request, Task, TaskResult } from './protocol.js';
import { runContend } from './tasks/contend.js';
import { runManyKeys } from './tasks/many-keys.js';
import { runFamilyPairs, runPairs, runReadWritePairs } from './tasks/pairs.js';
import { enterReentrant, leaveReentrant, runReentrantPairs } from './tasks/reentrant.js';
import { WaiterCrowd } from './tasks/waiters.js';

let client: LockClient | undefined;
let crowd: WaiterCrowd | undefined;

function opened(): LockClient {
  if (!client) throw new Error('no library open');
  return client;
}

async function run(task: Task): Promise<TaskResult> {
  switch (task.kind) {
    case 'open': {
      if (client) throw new Error('a library is already open');
      if (!isLibraryId(task.lib)) throw new Error(`unknown library ${task.lib}`);
      const library = await loadLibrary(task.lib);
      if (task.url.startsWith(CLUSTER_SCHEME)) {
        if (!library.openCluster) throw new Error(`${task.lib} does not run on a Redis Cluster`);
        client = await library.openCluster(task.url);
      } else {
        client = await library.open(task.url);
      }
      // Warm up before any clock starts: JIT, script caches, subscriptions.
      await runPairs(client, `bench:warmup:${process.pid}`, task.warmupPairs, 10_000);
      if (task.warmReadWrite) {
        await runReadWritePairs(client, `bench:warmup:rw:${process.pid}`, task.warmupPairs, 10_000);
      }
      if (task.warmFamily) {
        await runFamilyPairs(
          client,
          `bench:warmup:family:${process.pid}`,
          task.warmFamily,
          task.warmupPairs,
        );
      }
      return null;
    }
    case 'close': {
      await leaveReentrant();
      const closing = client;
      client = undefined;
      crowd = undefined;
      await closing?.close();
      return null;
    }
    case 'pairs':
      return await runPairs(opened(), task.key, task.pairs, task.ttlMs);
    case 'contend':
      return await runContend(opened(), task);
    case 'many-keys':
      return await runManyKeys(opened(), task);
    case 'waiters-start':
      crowd = new WaiterCrowd(opened());
      return await crowd.start(task);
    case 'waiters-stop': {
      if (!crowd) throw new Error('no waiters running');
      return await crowd.finish(task);
    }
    case 'reentrant-enter':
      return await enterReentrant(opened(), task);
    case 'reentrant-pairs':
      return await runReentrantPairs(opened(), task);
    case 'reentrant-leave':
      return await leaveReentrant();
  }
}

function reply(message: Reply): void {
  process.send?.(message);
}

process.on('message', (message: Request) => {
  run(message.task).then(
    (result) => reply({ id: message.id, ok: true, result }),
    (error: unknown) =>
      reply({
        id: message.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  );
});
// The harness going away closes the channel; a worker never outlives it.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: null } satisfies Reply);
