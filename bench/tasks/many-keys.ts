/** Many keys: concurrent tasks in one process, each acquiring and releasing its own key in a loop. */
import { nowUs, sleepUntilUs } from '../clock.js';
import type { LockClient } from '../libs/types.js';
import type { ManyKeysResult, Task } from '../protocol.js';

export async function runManyKeys(
  client: LockClient,
  task: Extract<Task, { kind: 'many-keys' }>,
): Promise<ManyKeysResult> {
  let ops = 0;
  let errors = 0;
  await sleepUntilUs(task.startAtUs);
  const startedUs = nowUs();
  const loop = async (key: string) => {
    while (nowUs() < task.endAtUs) {
      try {
        const held = await client.acquire(key, task.ttlMs);
        if (!held) throw new Error(`acquire of free key ${key} gave up`);
        await held.release();
        if (nowUs() <= task.endAtUs) ops++;
      } catch {
        errors++;
        if (errors > 1_000) throw new Error('many-keys: more than 1000 errors');
      }
    }
  };
  await Promise.all(Array.from({ length: task.tasks }, (_, i) => loop(`${task.keyPrefix}:${i}`)));
  return { ops, elapsedUs: Math.min(nowUs(), task.endAtUs) - startedUs, errors };
}
