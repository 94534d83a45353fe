/**
 * The shared resource of a fault run, as its own process: workers call it from their critical
 * sections, and it appends every call to an append-only JSONL log. Run as
 * `node resource-server.mjs <logPath> <fenced|unfenced>` (its bundle); it prints `PORT <n>` once
 * listening on 127.0.0.1 and exits on SIGTERM.
 *
 * - fenced: refuses `enter` and `write` whose token is below the highest token it has seen, like
 *   storage that honours fencing tokens. Seeing a token at `enter` matters: a new holder registers
 *   its token before an old holder's late write can land.
 * - unfenced: accepts everything, so overlapping holders and lost updates can be measured.
 */
import { createServer, type Socket } from 'node:net';
import { now } from './clock.js';
import type { ResourceEvent, ResourceMode, ResourceReply, ResourceRequest } from './events.js';
import { JsonlWriter } from './jsonl.js';

interface ResourceState {
  value: number;
  maxFence: number;
}

export class Resource {
  readonly #states = new Map<string, ResourceState>();
  #seq = 0;

  constructor(
    readonly mode: ResourceMode,
    private readonly record: (event: ResourceEvent) => void,
  ) {}

  handle(request: ResourceRequest, at: number): ResourceReply {
    let state = this.#states.get(request.resource);
    if (!state) {
      state = { value: 0, maxFence: 0 };
      this.#states.set(request.resource, state);
    }
    const maxFenceBefore = state.maxFence;
    const fenced = request.op !== 'exit' && this.mode === 'fenced';
    const stale = request.op !== 'exit' && request.fence < maxFenceBefore;
    const accepted = !(fenced && stale);
    const valueBefore = state.value;
    if (accepted && request.op !== 'exit') {
      state.maxFence = Math.max(state.maxFence, request.fence);
      if (request.op === 'write') state.value = (request.base ?? state.value) + 1;
    }
    this.record({
      seq: ++this.#seq,
      at,
      mode: this.mode,
      op: request.op,
      resource: request.resource,
      worker: request.worker,
      attempt: request.attempt,
      fence: request.fence,
      sentAt: request.sentAt,
      accepted,
      ...(accepted ? {} : { reason: 'stale-token' as const }),
      maxFenceBefore,
      valueBefore,
      valueAfter: state.value,
      ...(request.base === undefined ? {} : { base: request.base }),
    });
    return {
      id: request.id,
      accepted,
      value: state.value,
      ...(accepted ? {} : { reason: 'stale-token' }),
    };
  }
}

function serve(socket: Socket, resource: Resource): void {
  let buffered = '';
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    const at = now();
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const reply = resource.handle(JSON.parse(line) as ResourceRequest, at);
      socket.write(`${JSON.stringify(reply)}\n`);
    }
  });
}

function main(): void {
  const [logPath, mode] = process.argv.slice(2);
  if (!logPath || (mode !== 'fenced' && mode !== 'unfenced')) {
    throw new Error('usage: resource-server.ts <logPath> <fenced|unfenced>');
  }
  const log = new JsonlWriter(logPath);
  const resource = new Resource(mode, (event) => log.append(event));
  const server = createServer((socket) => serve(socket, resource));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('no address');
    process.stdout.write(`PORT ${address.port}\n`);
  });
  process.on('SIGTERM', () => {
    log.close();
    process.exit(0);
  });
}

// Run as a program (the .ts source or its bundle), not when a test imports its pieces.
if (/resource-server\.(ts|mjs)$/.test(process.argv[1] ?? '')) main();
