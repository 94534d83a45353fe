// redlock@4 ships no types; this declares the part of its API the benchmark uses.
declare module 'redlock' {
  namespace Redlock {
    interface Lock {
      unlock(): Promise<void>;
    }
    class LockError extends Error {}
  }
  class Redlock {
    constructor(clients: unknown[], options?: Record<string, number>);
    /** One resource, or several locked together (all or none). */
    lock(resource: string | readonly string[], ttl: number): Promise<Redlock.Lock>;
    on(event: 'clientError', listener: (error: unknown) => void): this;
  }
  export = Redlock;
}
