/**
 * The libraries in the benchmark, in report order. Each adapter module is loaded only by the process
 * that runs it, so a worker never loads the libraries it does not drive.
 */
import type { LockLibrary } from './types.js';

export const LIBRARY_IDS = [
  'latchkey-ioredis',
  'latchkey-node-redis',
  'raw',
  'redlock4',
  'redlock5',
  'sesamecare-redlock',
  'redis-semaphore',
  'redlock-universal',
] as const;

export type LibraryId = (typeof LIBRARY_IDS)[number];

/** The libraries whose client has a counting semaphore (`acquirePermit`). */
export const SEMAPHORE_LIBRARY_IDS: readonly LibraryId[] = [
  'latchkey-ioredis',
  'latchkey-node-redis',
  'redis-semaphore',
];

/** The libraries whose client has a read-write lock (`acquireRead`, `acquireWrite`). */
export const READ_WRITE_LIBRARY_IDS: readonly LibraryId[] = [
  'latchkey-ioredis',
  'latchkey-node-redis',
];

/** The libraries whose client has latchkey's other kinds (reentrant lock, election). */
export const FAMILY_LIBRARY_IDS: readonly LibraryId[] = ['latchkey-ioredis', 'latchkey-node-redis'];

/**
 * The libraries that run on a Redis Cluster (`openCluster`): latchkey, the floor, and the peers
 * that take an ioredis Cluster. Left out: the node-redlock family (built for independent servers),
 * and redlock-universal, whose releases fail on a Cluster ("Script execution failed after 1
 * NOSCRIPT retries": it loads its scripts on one node, and EVALSHA goes to the key's master).
 */
export const CLUSTER_LIBRARY_IDS: readonly LibraryId[] = [
  'latchkey-ioredis',
  'latchkey-node-redis',
  'raw',
  'redis-semaphore',
];

/** The libraries whose client locks several keys at once, all or none (`acquireMany`). */
export const MULTI_LIBRARY_IDS: readonly LibraryId[] = [
  'latchkey-ioredis',
  'latchkey-node-redis',
  'redlock4',
  'redlock5',
  'sesamecare-redlock',
  'redlock-universal',
];

const modules: Record<LibraryId, () => Promise<{ library: LockLibrary }>> = {
  'latchkey-ioredis': () => import('./latchkey-ioredis.js'),
  'latchkey-node-redis': () => import('./latchkey-node-redis.js'),
  raw: () => import('./raw.js'),
  redlock4: () => import('./redlock4.js'),
  redlock5: () => import('./redlock5.js'),
  'sesamecare-redlock': () => import('./sesamecare-redlock.js'),
  'redis-semaphore': () => import('./redis-semaphore.js'),
  'redlock-universal': () => import('./redlock-universal.js'),
};

export function isLibraryId(id: string): id is LibraryId {
  return (LIBRARY_IDS as readonly string[]).includes(id);
}

export async function loadLibrary(id: LibraryId): Promise<LockLibrary> {
  return (await modules[id]()).library;
}

export function isLatchkey(id: string): boolean {
  return id.startsWith('latchkey-');
}
