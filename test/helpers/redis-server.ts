/**
 * Starts real redis-server processes on free loopback ports, without persistence, and stops them by
 * pid. Each server gets its own temporary directory, removed when it stops. A server started with
 * `tls` listens on its TLS port only, and its admin commands go over TLS too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port`, or `rediss://host:port` for a server started with `tls`. */
  readonly url: string;
  readonly pid: number;
  /** Sends one command over a fresh connection and returns the decoded reply. */
  command(...args: (string | number)[]): Promise<RespValue>;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s) and removes its directory. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. */
  readonly args?: readonly string[];
  readonly port?: number;
  /**
   * Runs a Sentinel (`redis-server <config> --sentinel`) with these config lines instead of a data
   * server; the config file goes in the server's own directory, where Sentinel rewrites it.
   */
  readonly sentinelConfig?: readonly string[];
  /** Serves TLS on `port` instead of plain TCP (redis-server's `--tls-port`, with `--port 0`). */
  readonly tls?: ServerTls;
}

export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that client certificates must be signed by. */
  readonly caFile: string;
  /**
   * `--tls-auth-clients`: `yes` (Redis's default) refuses clients without a certificate signed by
   * `caFile`, `optional` checks one only when offered, `no` asks for none.
   */
  readonly authClients: 'yes' | 'optional' | 'no';
  /** How `command` connects: trust in the server's CA and, when it asks, a client certificate. */
  readonly admin: ConnectionOptions;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedis(options: StartOptions = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await startOn(port, options.args ?? [], options.sentinelConfig, options.tls);
    } catch (error) {
      // Another process may have taken the port between our probe and the server's bind.
      if (options.port !== undefined || attempt >= 5) throw error;
    }
  }
}

/** Arguments of a test redis-server: loopback only, no persistence, DEBUG allowed, own directory. */
export function redisServerArgs(
  port: number,
  dir: string,
  extra: readonly string[] = [],
): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--enable-debug-command',
    'local',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
    ...extra,
  ];
}

/** The arguments that move a server from `port` to TLS on `port` (the plain port closed). */
function tlsArgs(port: number, tls: ServerTls): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    tls.certFile,
    '--tls-key-file',
    tls.keyFile,
    '--tls-ca-cert-file',
    tls.caFile,
    '--tls-auth-clients',
    tls.authClients,
  ];
}

async function startOn(
  port: number,
  extraArgs: readonly string[],
  sentinelConfig: readonly string[] | undefined,
  tls: ServerTls | undefined,
): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
  // Later arguments win, so TLS's `--port 0` replaces the plain port given first.
  let args = redisServerArgs(port, dir, tls ? [...tlsArgs(port, tls), ...extraArgs] : extraArgs);
  if (sentinelConfig) {
    const config = join(dir, 'sentinel.conf');
    writeFileSync(config, `${sentinelConfig.join('\n')}\n`);
    args = [config, ...args, '--sentinel'];
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  child.once('exit', () => running.delete(child));

  const send = (command: readonly (string | number)[]) =>
    sendCommand(port, command, '127.0.0.1', tls?.admin);
  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    command: (...command) => send(command),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 5_000;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server on port ${port} exited: ${output.trim()}`);
    }
    try {
      if ((await send(['PING'])) === 'PONG') return server;
    } catch {}
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`redis-server on port ${port} did not answer PING: ${output.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export type RespValue = string | number | null | RespValue[] | Error;

/**
 * A minimal RESP2 client for admin commands in tests, independent of the adapters under test; over
 * TLS when given `tls` options.
 */
export async function sendCommand(
  port: number,
  command: readonly (string | number)[],
  host = '127.0.0.1',
  tls?: ConnectionOptions,
): Promise<RespValue> {
  const payload = `*${command.length}\r\n${command
    .map((part) => {
      const text = String(part);
      return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
    })
    .join('')}`;
  return await new Promise((resolve, reject) => {
    const socket = tls ? tlsConnect({ ...tls, port, host }) : createConnection({ port, host });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${command[0]} within 5 s`));
    }, 5_000);
    socket.on(tls ? 'secureConnect' : 'connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseResp(buffer, 0);
      if (parsed) {
        clearTimeout(timer);
        socket.end();
        resolve(parsed.value);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function parseResp(buffer: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new Error(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RespValue[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buffer, cursor);
        if (!item) return undefined;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Parses `INFO commandstats` into calls per command name. */
export async function commandCalls(server: RedisServer): Promise<Map<string, number>> {
  const info = String(await server.command('INFO', 'commandstats'));
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] ?? '', Number(match[2]));
  }
  return calls;
}
