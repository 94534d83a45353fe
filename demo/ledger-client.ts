/**
 * A worker's connection to the ledger: fire-and-forget reports, and read/write requests that wait
 * for the ledger's reply (bounded, so a vanished ledger cannot hang a worker).
 */
import { connect, type Socket } from 'node:net';
import { type LedgerMessage, LineChannel, type WorkerMessage } from './protocol.js';

/** Generous: a request may legitimately wait out a SIGSTOP of its own process. */
const REPLY_TIMEOUT_MS = 30_000;

type Report = Exclude<WorkerMessage, { type: 'read' } | { type: 'write' }>;
type WriteRequest = Omit<Extract<WorkerMessage, { type: 'write' }>, 'type' | 'id'>;

export class LedgerClient {
  readonly #channel: LineChannel<LedgerMessage, WorkerMessage>;
  readonly #pending = new Map<number, (reply: LedgerMessage) => void>();
  readonly #started: Promise<void>;
  readonly #stopped = new AbortController();
  #nextId = 1;

  private constructor(socket: Socket) {
    let markStarted!: () => void;
    this.#started = new Promise((resolve) => {
      markStarted = resolve;
    });
    this.#channel = new LineChannel(socket, (message: LedgerMessage) => {
      if (message.type === 'start') markStarted();
      else if (message.type === 'stop') this.#stopped.abort(new Error('the demo is over'));
      else this.#pending.get(message.id)?.(message);
    });
    this.#channel.socket.on('close', () => {
      this.#stopped.abort(new Error('the ledger went away'));
      for (const settle of this.#pending.values()) settle({ type: 'stop' });
    });
  }

  static async connect(port: number): Promise<LedgerClient> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {}); // 'close' follows and ends the worker
    return new LedgerClient(socket);
  }

  /** Resolves when the demo starts. */
  get started(): Promise<void> {
    return this.#started;
  }

  /** Aborts when the demo tells workers to stop, or the ledger connection closes. */
  get stopSignal(): AbortSignal {
    return this.#stopped.signal;
  }

  report(message: Report): void {
    this.#channel.send(message);
  }

  async read(fence: number): Promise<number> {
    const reply = await this.#request({ type: 'read', id: this.#nextId++, fence });
    if (reply.type !== 'value') throw new Error('the ledger closed before answering a read');
    return reply.value;
  }

  async write(request: WriteRequest): Promise<{ accepted: boolean; highestFence: number }> {
    const reply = await this.#request({ type: 'write', id: this.#nextId++, ...request });
    if (reply.type !== 'write-result')
      throw new Error('the ledger closed before answering a write');
    return reply;
  }

  close(): void {
    this.#channel.socket.end();
  }

  #request(message: Extract<WorkerMessage, { id: number }>): Promise<LedgerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(message.id);
        reject(new Error(`no reply from the ledger within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.#pending.set(message.id, (reply) => {
        clearTimeout(timer);
        this.#pending.delete(message.id);
        resolve(reply);
      });
      this.#channel.send(message);
    });
  }
}
