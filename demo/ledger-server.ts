/**
 * Serves the fenced ledger to the workers over loopback TCP (one JSON line per message), and shows
 * every message to observers first, so that they see events in the order the ledger does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { FencedLedger, WriteResult } from './ledger.js';
import {
  crossProcessNow,
  type LedgerMessage,
  LineChannel,
  type WorkerMessage,
} from './protocol.js';

export type WriteMessage = Extract<WorkerMessage, { type: 'write' }>;

export interface LedgerObserver {
  /**
   * Sees each message before the ledger answers it; a signal sent to the worker from here reaches
   * it before the reply does.
   */
  received?(worker: number, message: WorkerMessage, at: number): void;
  /** Sees each write with the ledger's verdict. */
  written?(worker: number, message: WriteMessage, result: WriteResult, at: number): void;
  /** A worker's connection closed (it exited, or was killed). */
  disconnected?(worker: number): void;
}

export class LedgerServer {
  readonly #server: Server;
  readonly #channels = new Set<LineChannel<WorkerMessage, LedgerMessage>>();
  readonly #observers: LedgerObserver[] = [];

  private constructor(readonly ledger: FencedLedger) {
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(ledger: FencedLedger): Promise<LedgerServer> {
    const server = new LedgerServer(ledger);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', reject);
      server.#server.listen(0, '127.0.0.1', resolve);
    });
    return server;
  }

  get port(): number {
    const address = this.#server.address();
    if (typeof address !== 'object' || address === null) throw new Error('ledger not listening');
    return address.port;
  }

  /** Adds an observer; observers see each event in the order they were added. */
  observe(observer: LedgerObserver): void {
    this.#observers.push(observer);
  }

  broadcast(message: LedgerMessage): void {
    for (const channel of this.#channels) channel.send(message);
  }

  async close(): Promise<void> {
    for (const channel of this.#channels) channel.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    let worker: number | undefined;
    socket.on('error', () => {}); // a killed worker resets its connection; 'close' reports it
    const channel = new LineChannel<WorkerMessage, LedgerMessage>(socket, (message) => {
      if (message.type === 'hello') worker = message.worker;
      if (worker === undefined) return;
      const at = crossProcessNow();
      for (const observer of this.#observers) observer.received?.(worker, message, at);
      if (message.type === 'read') {
        channel.send({ type: 'value', id: message.id, value: this.ledger.read(message.fence) });
      } else if (message.type === 'write') {
        const result = this.ledger.write({ worker, ...message }, at);
        for (const observer of this.#observers) observer.written?.(worker, message, result, at);
        channel.send({ type: 'write-result', id: message.id, ...result });
      }
    });
    this.#channels.add(channel);
    socket.on('close', () => {
      this.#channels.delete(channel);
      if (worker !== undefined) {
        for (const observer of this.#observers) observer.disconnected?.(worker);
      }
    });
  }
}
