/** A worker's connection to the resource server: JSON lines, one reply per request, in order. */
import { createConnection, type Socket } from 'node:net';
import { now } from './clock.js';
import type { ResourceOp, ResourceReply, ResourceRequest } from './events.js';

export interface ResourceCall {
  readonly op: ResourceOp;
  readonly attempt: string;
  readonly fence: number;
  readonly base?: number;
  /** Another resource than the client's own (a multi-lock has one per name). */
  readonly resource?: string;
}

export class ResourceClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, (reply: ResourceReply) => void>();
  #nextId = 1;
  #buffered = '';

  private constructor(
    socket: Socket,
    private readonly worker: string,
    private readonly resource: string,
  ) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#receive(chunk.toString('utf8')));
  }

  static connect(port: number, worker: string, resource: string): Promise<ResourceClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new ResourceClient(socket, worker, resource));
      });
    });
  }

  call(call: ResourceCall): Promise<ResourceReply> {
    const request: ResourceRequest = {
      id: this.#nextId++,
      resource: this.resource,
      worker: this.worker,
      sentAt: now(),
      ...call,
    };
    return new Promise((resolve) => {
      this.#pending.set(request.id, resolve);
      this.#socket.write(`${JSON.stringify(request)}\n`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(text: string): void {
    this.#buffered += text;
    for (let end = this.#buffered.indexOf('\n'); end >= 0; end = this.#buffered.indexOf('\n')) {
      const reply = JSON.parse(this.#buffered.slice(0, end)) as ResourceReply;
      this.#buffered = this.#buffered.slice(end + 1);
      this.#pending.get(reply.id)?.(reply);
      this.#pending.delete(reply.id);
    }
  }
}
