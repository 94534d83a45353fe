/**
 * A redis-server the fault harness can break: freeze (SIGSTOP/SIGCONT), kill -9, and restart on
 * the same port and directory, so a restart with an append-only file finds its data again.
 * Started from the Debian binary, loopback only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type RespValue, redisServerArgs, sendCommand } from '../helpers/redis-server.js';
import { isAlive, type Spawned, signal, terminate, track } from './processes.js';

const START_TIMEOUT_MS = 5_000;

export class RedisNode {
  #process: Spawned | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  /** Starts a server; `args` come after the harness defaults (no persistence unless overridden). */
  static async start(args: readonly string[] = []): Promise<RedisNode> {
    for (let attempt = 1; ; attempt++) {
      const node = new RedisNode(
        await freePort(),
        mkdtempSync(join(tmpdir(), 'latchkey-faults-')),
        args,
      );
      try {
        await node.#spawn();
        return node;
      } catch (error) {
        rmSync(node.dir, { recursive: true, force: true });
        if (attempt >= 3) throw error;
      }
    }
  }

  get pid(): number {
    return this.#process?.pid ?? -1;
  }

  async #spawn(): Promise<void> {
    const child = spawn('redis-server', redisServerArgs(this.port, this.dir, this.args), {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const spawned = track(child);
    this.#process = spawned;
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!isAlive(spawned)) throw new Error(`redis-server exited: ${spawned.stderr()}`);
      try {
        if ((await sendCommand(this.port, ['PING'])) === 'PONG') return;
      } catch {}
      if (performance.now() > deadline) {
        await terminate(spawned);
        throw new Error(`redis-server on ${this.port} did not answer PING`);
      }
      await new Promise((done) => setTimeout(done, 10));
    }
  }

  /** One admin command on a fresh connection (never through the clients under test). */
  async command(...args: (string | number)[]): Promise<RespValue> {
    const reply = await sendCommand(this.port, args);
    if (reply instanceof Error) throw reply;
    return reply;
  }

  freeze(): void {
    if (this.#process) signal(this.#process, 'SIGSTOP');
  }

  thaw(): void {
    if (this.#process) signal(this.#process, 'SIGCONT');
  }

  /** kill -9: no shutdown, no final save; whatever was not fsynced is gone. */
  async kill(): Promise<void> {
    const spawned = this.#process;
    if (!spawned) return;
    signal(spawned, 'SIGCONT');
    signal(spawned, 'SIGKILL');
    await spawned.exited;
  }

  /** Starts the server again on the same port and directory (after `kill`). */
  async restart(): Promise<void> {
    await this.kill();
    // The port may sit in TIME_WAIT for a moment; redis-server sets SO_REUSEADDR, so retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#spawn();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((done) => setTimeout(done, 50));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#process) await terminate(this.#process);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
