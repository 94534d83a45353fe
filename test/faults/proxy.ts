/**
 * A TCP proxy between a client and Redis that can misbehave on command, in place of `tc netem`
 * (not available on these kernels). Modes:
 * - `pass`: forward everything at once;
 * - `delay`: forward each chunk after `delayMs` (order kept);
 * - `blackhole`: forward nothing and keep every socket open, like a network that silently drops
 *   packets; new connections are accepted but not connected upstream. Healing (back to `pass`)
 *   delivers what was held back, in order, as TCP retransmission would after a partition.
 * `reset()` ends every connection with a TCP RST, both ways.
 * Loopback only.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly delayMs: number }
  | { readonly kind: 'blackhole' };

class Link {
  upstream: Socket | undefined;
  readonly toUpstream: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  closed = false;

  constructor(
    readonly client: Socket,
    private readonly upstreamPort: number,
    private readonly mode: () => ProxyMode,
  ) {
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.#forward(chunk, 'up'));
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    if (mode().kind !== 'blackhole') this.connectUpstream();
  }

  connectUpstream(): void {
    if (this.upstream || this.closed) return;
    const upstream = createConnection({ port: this.upstreamPort, host: '127.0.0.1' });
    upstream.setNoDelay(true);
    this.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => this.#forward(chunk, 'down'));
    upstream.on('error', () => this.destroy());
    upstream.on('close', () => this.destroy());
    upstream.on('connect', () => this.flush());
  }

  #forward(chunk: Buffer, direction: 'up' | 'down'): void {
    const queue = direction === 'up' ? this.toUpstream : this.toClient;
    const mode = this.mode();
    if (mode.kind === 'blackhole' || queue.length > 0 || !this.#upstreamOpen()) {
      queue.push(chunk);
      return;
    }
    const target = direction === 'up' ? (this.upstream as Socket) : this.client;
    if (mode.kind === 'delay') {
      setTimeout(() => {
        if (!this.closed) target.write(chunk);
      }, mode.delayMs);
    } else {
      target.write(chunk);
    }
  }

  #upstreamOpen(): boolean {
    return this.upstream?.readyState === 'open';
  }

  /** Sends what was held back, once the link may forward again. */
  flush(): void {
    if (this.closed || this.mode().kind === 'blackhole') return;
    if (!this.upstream) {
      this.connectUpstream();
      return;
    }
    if (!this.#upstreamOpen()) return;
    for (const chunk of this.toUpstream.splice(0)) this.upstream.write(chunk);
    for (const chunk of this.toClient.splice(0)) this.client.write(chunk);
  }

  reset(): void {
    this.closed = true;
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.upstream?.destroy();
  }
}

export class FaultProxy {
  readonly #links = new Set<Link>();
  #mode: ProxyMode = { kind: 'pass' };

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(upstreamPort: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const pending: Socket[] = [];
    const server = createServer((client) => {
      if (proxy) proxy.#accept(client, upstreamPort);
      else pending.push(client);
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('proxy has no address'));
      });
    });
    proxy = new FaultProxy(server, port);
    for (const client of pending) proxy.#accept(client, upstreamPort);
    return proxy;
  }

  #accept(client: Socket, upstreamPort: number): void {
    const link = new Link(client, upstreamPort, () => this.#mode);
    this.#links.add(link);
    client.once('close', () => this.#links.delete(link));
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    if (mode.kind !== 'blackhole') for (const link of this.#links) link.flush();
  }

  /** The local ports of its open connections to the server: how the server sees them. */
  upstreamPorts(): number[] {
    const ports: number[] = [];
    for (const link of this.#links) {
      if (link.upstream?.localPort !== undefined) ports.push(link.upstream.localPort);
    }
    return ports;
  }

  /** Ends every open connection with an RST. New connections are accepted as usual. */
  reset(): void {
    for (const link of this.#links) link.reset();
    this.#links.clear();
  }

  async close(): Promise<void> {
    for (const link of this.#links) link.destroy();
    this.#links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
