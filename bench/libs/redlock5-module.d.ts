// redlock@5.0.0-beta.2's `exports` map has no `types` condition, so NodeNext resolution finds no
// types for it; this declares the part of its API the benchmark uses.
declare module 'redlock5' {
  import { EventEmitter } from 'node:events';

  export class ExecutionError extends Error {}
  export class Lock {
    release(): Promise<unknown>;
  }
  export default class Redlock extends EventEmitter {
    constructor(clients: Iterable<unknown>, settings?: Record<string, number>);
    acquire(resources: string[], duration: number): Promise<Lock>;
  }
}
