/**
 * The `latchkey` command, run as the built bin in child processes against a real redis-server:
 * exit codes, the child's environment, signals, loss of the lock, inspect, watch and the
 * operator's release. The last test packs the package, installs the tarball into a fresh project
 * with ioredis (offline, from this checkout's node_modules) and runs it there through npx.
 * Builds dist/ first unless it is newer than every source file (`npm test` has just built it).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { makeTestCertificates } from '../helpers/tls-certs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'dist/cli/main.js');
/** Every wait in these tests ends by this bound at the latest. */
const BOUND_MS = 10_000;

let server: RedisServer;
let names = 0;
/** A lock name of its own for each test. */
const fresh = (label: string) => `cli-${label}-${process.pid}-${++names}`;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(async () => {
  if (!existsSync(bin) || statSync(bin).mtimeMs < newestSource(join(root, 'src'))) {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });
  }
  server = await startRedis();
}, 120_000);

/** Commands still running, killed after the tests whatever happened. */
const live = new Set<Running>();

afterAll(async () => {
  for (const running of live) running.signal('SIGKILL');
  await server?.stop();
});

/** A running command: its output so far, and ways to wait for more and for its end. */
interface Running {
  readonly child: ChildProcess;
  /** Sends `signal` to the command, or to its process group when it runs in one (npx). */
  signal(signal: NodeJS.Signals): void;
  stdout: string;
  stderr: string;
  /** Resolves once stdout matches `pattern`; rejects after BOUND_MS. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (128 + n after signal n); kills it after 2 × BOUND_MS. */
  readonly exited: Promise<number>;
}

function start(
  args: readonly string[],
  options: {
    cwd?: string;
    command?: readonly string[];
    group?: boolean;
    /** Added to the environment; an undefined value removes the variable. */
    env?: NodeJS.ProcessEnv;
  } = {},
): Running {
  const [program, ...prefix] = options.command ?? [process.execPath, bin];
  const child = spawn(program as string, [...prefix, ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, REDIS_URL: server.url, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // npx runs the bin under a shell that does not pass signals on: signal the group, as a
    // terminal's Ctrl-C does.
    detached: options.group === true,
  });
  const running: Running = {
    child,
    signal: (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (options.group && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    },
    stdout: '',
    stderr: '',
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = running.stdout.match(pattern);
          if (!match) return false;
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolve(match);
          return true;
        };
        const timer = setTimeout(() => {
          child.stdout?.off('data', check);
          reject(new Error(`no ${pattern} within ${BOUND_MS} ms; stdout: ${running.stdout}`));
        }, BOUND_MS);
        // Registered after start()'s own listener, so the text is appended when this runs.
        if (!check()) child.stdout?.on('data', check);
      }),
    exited: new Promise((resolve) => {
      const timer = setTimeout(() => running.signal('SIGKILL'), 2 * BOUND_MS);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        live.delete(running);
        resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
      });
    }),
  };
  live.add(running);
  child.stdout?.on('data', (chunk) => (running.stdout += chunk));
  child.stderr?.on('data', (chunk) => (running.stderr += chunk));
  return running;
}

/** Runs the command to its end. */
async function run(args: readonly string[], options?: Parameters<typeof start>[1]) {
  const running = start(args, options);
  const code = await running.exited;
  return { code, stdout: running.stdout, stderr: running.stderr };
}

/** Polls `read` (a test's own check, not the code under test) until `done`, within BOUND_MS. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${BOUND_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts `latchkey lock NAME` with a command that prints its fencing token ("token=N"), and
 * resolves once it waits in line.
 */
async function startQueuedWaiter(
  name: string,
  options?: Parameters<typeof start>[1],
): Promise<Running> {
  const waiter = start(
    [
      'lock',
      name,
      '--wait',
      String(BOUND_MS),
      '--',
      'sh',
      '-c',
      'echo "token=$LATCHKEY_FENCING_TOKEN"',
    ],
    options,
  );
  await until(
    () => inspectJson(name),
    (state) => state.waiters === 1,
  );
  return waiter;
}

async function inspectJson(name: string) {
  const { code, stdout } = await run(['inspect', name, '--json']);
  expect(code).toBe(0);
  return JSON.parse(stdout) as {
    name: string;
    locked: boolean;
    token: string | null;
    remainingMs: number;
    lastFencingToken: number;
    waiters: number;
  };
}

/** A command that says "ready", then waits for SIGTERM and exits 9 on it (or after 20 s). */
const UNTIL_TERM = [
  'sh',
  '-c',
  'trap "echo got TERM; exit 9" TERM; echo "ready $LATCHKEY_FENCING_TOKEN"; sleep 20 & wait',
];

describe('latchkey command', () => {
  it('latchkey › --help › lists the commands, and each command has its own help', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['lock', 'inspect', 'watch', 'release', 'demo']) {
      expect(top.stdout).toContain(`  ${command}`);
      const own = await run([command, '--help']);
      expect(own.code).toBe(0);
      expect(own.stdout).toMatch(new RegExp(`^usage: latchkey ${command}`));
    }
    expect((await run(['help', 'lock'])).stdout).toContain('LATCHKEY_FENCING_TOKEN');
  });

  it.each([
    [['lock'], 'latchkey lock: missing NAME'],
    [['lock', 'x'], 'latchkey lock: missing the command to run after --'],
    [['lock', 'x', 'true'], 'latchkey lock: put -- between NAME and the command'],
    [
      ['lock', 'x', '--ttl', '1.5', '--', 'true'],
      '--ttl must be an integer number of milliseconds',
    ],
    [['lock', 'x', '--wait', '-1', '--', 'true'], "Option '--wait' argument is ambiguous."],
    [['lock', 'x', '--wait=-1', '--', 'true'], '--wait must be an integer number of milliseconds'],
    [['lock', 'x', '--bogus', '--', 'true'], "Unknown option '--bogus'"],
    [['inspect'], 'latchkey inspect: missing NAME'],
    [['watch', 'a', 'b'], 'latchkey watch: unexpected argument "b" after NAME'],
    [['inspect', 'x', '--client', 'memcached'], '--client must be ioredis, redis or auto'],
    [['inspect', 'x', '--url', 'http://localhost'], 'must start with redis:// or rediss://'],
    [['frobnicate'], 'latchkey: unknown command "frobnicate"'],
    [['release', 'x'], 'refusing to end another process\'s hold of "x" without --force'],
  ])('latchkey › bad arguments › %j exits 64 with one line', async (args, message) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(64);
    expect(stderr).toContain(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('latchkey › unreachable Redis › exits 69 naming the URL (password hidden)', async () => {
    const { code, stderr } = await run(['inspect', 'x', '--url', 'redis://:secret@127.0.0.1:1']);
    expect(code).toBe(69);
    expect(stderr).toMatch(
      /^latchkey: cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/,
    );
    expect(stderr).not.toContain('secret');
  });

  it('latchkey › TLS › a rediss:// URL works with both clients when NODE_EXTRA_CA_CERTS names the CA; without it, exits 69 naming the certificate problem', async () => {
    const certificates = makeTestCertificates();
    // No client certificates: the command has no option for one, and Node reads none from the env.
    const tlsServer = await startRedis({
      tls: {
        certFile: certificates.serverCertFile,
        keyFile: certificates.serverKeyFile,
        caFile: certificates.caFile,
        authClients: 'no',
        admin: { ca: certificates.client.ca },
      },
    });
    try {
      const url = tlsServer.url;
      const trusting = { env: { NODE_EXTRA_CA_CERTS: certificates.caFile } };
      for (const client of ['ioredis', 'redis']) {
        const name = fresh(`tls-${client}`);
        const locked = await run(
          [
            'lock',
            name,
            '--url',
            url,
            '--client',
            client,
            '--',
            'sh',
            '-c',
            'echo "token=$LATCHKEY_FENCING_TOKEN"',
          ],
          trusting,
        );
        expect(locked.stderr).toBe('');
        expect(locked.code).toBe(0);
        expect(locked.stdout).toMatch(/^token=\d+$/m);
      }
      // node-redis retries until the command's connect timeout, so both run at once.
      const untrusting = { env: { NODE_EXTRA_CA_CERTS: undefined } };
      const refused = await Promise.all(
        ['ioredis', 'redis'].map((client) =>
          run(['inspect', 'x', '--url', url, '--client', client], untrusting),
        ),
      );
      for (const { code, stderr } of refused) {
        expect(code).toBe(69);
        expect(stderr).toMatch(
          /^latchkey: cannot connect to Redis at rediss:\/\/127\.0\.0\.1:\d+\/?: self[- ]signed certificate/,
        );
      }
    } finally {
      await tlsServer.stop();
      certificates.remove();
    }
  });

  it('lock › runs the command with the lock name and fencing token in its environment, and passes its exit code on', async () => {
    const name = fresh('env');
    const { code, stdout } = await run([
      'lock',
      name,
      '--',
      'sh',
      '-c',
      'echo "name=$LATCHKEY_LOCK_NAME token=$LATCHKEY_FENCING_TOKEN"; exit 7',
    ]);
    expect(code).toBe(7);
    const [, seenName, token] = stdout.match(/^name=(\S+) token=(\d+)$/m) ?? [];
    expect(seenName).toBe(name);
    const state = await inspectJson(name);
    expect(state.lastFencingToken).toBe(Number(token));
    expect(state.locked).toBe(false); // released when the command exited
  });

  it('lock › --prefix puts the lock under the prefix the application uses', async () => {
    const name = fresh('prefix');
    const holder = start(['lock', name, '--prefix', 'app:', '--', ...UNTIL_TERM]);
    await holder.waitFor(/ready/);
    expect(await server.command('EXISTS', `app:{${name}}`)).toBe(1);
    const other = await run(['inspect', name, '--prefix', 'app:', '--json']);
    expect(JSON.parse(other.stdout)).toMatchObject({ locked: true });
    expect((await inspectJson(name)).locked).toBe(false); // the default prefix is another lock
    holder.signal('SIGTERM');
    expect(await holder.exited).toBe(9);
  });

  it('lock › a command killed by signal n exits 128 + n; a missing command exits 127', async () => {
    expect((await run(['lock', fresh('sig'), '--', 'sh', '-c', 'kill -USR1 $$'])).code).toBe(
      128 + 10,
    );
    const missing = await run(['lock', fresh('missing'), '--', 'no-such-command-latchkey']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('cannot run no-such-command-latchkey');
  });

  it('lock › with node-redis (--client redis) as with ioredis', async () => {
    const { code, stdout } = await run([
      'lock',
      fresh('node-redis'),
      '--client',
      'redis',
      '--',
      'sh',
      '-c',
      'echo "token=$LATCHKEY_FENCING_TOKEN"',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^token=\d+$/m);
  });

  it('lock › holds the lock while the command runs: another lock times out with 124, a signal ends a wait with 128 + n, a waiting one gets the lock next with a larger fencing token', async () => {
    const name = fresh('held');
    const holder = start(['lock', name, '--', ...UNTIL_TERM]);
    const [, first] = await holder.waitFor(/ready (\d+)/);
    const state = await inspectJson(name);
    expect(state).toMatchObject({ name, locked: true, lastFencingToken: Number(first) });
    expect(state.token).toMatch(/^[0-9a-f]{32}$/);
    expect(state.remainingMs).toBeGreaterThan(0);
    expect(state.remainingMs).toBeLessThanOrEqual(10_000);

    const timedOut = await run(['lock', name, '--wait', '300', '--', 'true']);
    expect(timedOut.code).toBe(124);
    expect(timedOut.stderr).toContain(
      `"${name}" is held by someone else; gave up after waiting 300 ms`,
    );

    // A signal while waiting ends the wait: 128 + n, and the command never runs.
    const given = start(['lock', name, '--wait', 'inf', '--', 'echo', 'ran']);
    await until(
      () => inspectJson(name),
      (s) => s.waiters === 1,
    );
    given.signal('SIGTERM');
    expect(await given.exited).toBe(128 + constants.signals.SIGTERM);
    expect(given.stdout).toBe('');
    const waiter = await startQueuedWaiter(name);
    const text = await run(['inspect', name]);
    expect(text.stdout).toMatch(/^state: +held$/m);
    expect(text.stdout).toMatch(/^waiters: +1$/m);
    expect(text.stdout).toMatch(new RegExp(`^last fencing token: +${first}$`, 'm'));
    expect(waiter.stdout).toBe(''); // still waiting

    holder.signal('SIGTERM'); // forwarded: the command exits 9, the lock goes to the waiter
    expect(await holder.exited).toBe(9);
    expect(holder.stdout).toContain('got TERM');
    expect(await waiter.exited).toBe(0);
    const [, second] = waiter.stdout.match(/token=(\d+)/) ?? [];
    expect(Number(second)).toBeGreaterThan(Number(first));
  });

  it('lock › SIGINT is forwarded to the command and its exit code passed on', async () => {
    const name = fresh('int');
    const holder = start([
      'lock',
      name,
      '--',
      'sh',
      '-c',
      'trap "echo got INT; exit 3" INT; echo ready; sleep 20 & wait',
    ]);
    await holder.waitFor(/ready/);
    // Under load latchkey can be descheduled between starting the command and passing signals
    // on; a SIGINT there once killed latchkey itself (exit 130), leaving the lock held.
    holder.signal('SIGINT');
    const code = await holder.exited;
    const seen = `signal ${holder.child.signalCode}; stdout: ${holder.stdout}; stderr: ${holder.stderr}`;
    expect(code, seen).toBe(3);
    expect(holder.stdout).toContain('got INT');
    expect((await inspectJson(name)).locked, seen).toBe(false);
  });

  it('lock › when the lock key is deleted the command gets SIGTERM and latchkey exits 125', async () => {
    const name = fresh('lost');
    const holder = start(['lock', name, '--', ...UNTIL_TERM]);
    await holder.waitFor(/ready/);
    const started = Date.now();
    await server.command('DEL', `latchkey:{${name}}`);
    expect(await holder.exited).toBe(125);
    // Loss by push: well before the first refresh (a third of the 10 s ttl).
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(holder.stdout).toContain('got TERM');
    expect(holder.stderr).toContain(`lost the lock "${name}" (expired)`);
  });

  it('lock › a command that ignores SIGTERM after FLUSHALL is killed after --grace, exit 125', async () => {
    const name = fresh('flush');
    const holder = start([
      'lock',
      name,
      '--grace',
      '300',
      '--',
      'sh',
      '-c',
      'trap "echo ignoring TERM" TERM; echo ready; sleep 20 & wait; sleep 20',
    ]);
    await holder.waitFor(/ready/);
    const started = Date.now();
    await server.command('FLUSHALL');
    expect(await holder.exited).toBe(125);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(holder.stdout).toContain('ignoring TERM');
  });

  it('watch › prints the lock now, then its acquisition and release as they happen, until SIGINT', async () => {
    const name = fresh('watch');
    const watcher = start(['watch', name, '--json']);
    await watcher.waitFor(/"event":"now"/);
    const holder = start(['lock', name, '--', 'sh', '-c', 'echo ready; sleep 0.5']);
    await holder.waitFor(/ready/);
    await watcher.waitFor(/"event":"acquired"/);
    expect(await holder.exited).toBe(0);
    await watcher.waitFor(/"event":"released"/);
    watcher.signal('SIGINT');
    expect(await watcher.exited).toBe(0);
    const events = watcher.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; locked: boolean; name: string });
    expect(events.map((e) => e.event)).toEqual(['now', 'acquired', 'released']);
    expect(events[1]).toMatchObject({ name, locked: true });

    // The text form: one line per change.
    const text = start(['watch', name]);
    await text.waitFor(/ now +free, last fencing token \d+, 0 waiting/);
    text.signal('SIGTERM');
    expect(await text.exited).toBe(0);
  });

  it('release --force › refuses without --force; with it the waiting lock proceeds with a larger fencing token and the old holder stops', async () => {
    const name = fresh('force');
    const holder = start(['lock', name, '--', ...UNTIL_TERM]);
    const [, first] = await holder.waitFor(/ready (\d+)/);

    const refused = await run(['release', name]);
    expect(refused.code).toBe(64);
    expect((await inspectJson(name)).locked).toBe(true);

    const other = await run(['release', '--force', name, '--token', 'f'.repeat(32)]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('not released');
    expect((await inspectJson(name)).locked).toBe(true);

    const waiter = await startQueuedWaiter(name);
    const released = await run(['release', '--force', name]);
    expect(released.code).toBe(0);
    expect(released.stdout).toContain('handed to the next waiter');
    expect(await waiter.exited).toBe(0);
    const [, second] = waiter.stdout.match(/token=(\d+)/) ?? [];
    expect(Number(second)).toBeGreaterThan(Number(first));
    expect(await holder.exited).toBe(125);
    expect(holder.stderr).toContain(`lost the lock "${name}" (taken)`);

    const free = await run(['release', '--force', name]);
    expect(free).toMatchObject({ code: 0, stdout: `"${name}" was not held\n` });
  });

  it('package › npm pack, installed with ioredis in a fresh project: npx latchkey lock, inspect, watch, release --force; installed alone it asks for a client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-pack-'));
    try {
      const packed = execFileSync(
        'npm',
        ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir],
        { cwd: root, encoding: 'utf8' },
      );
      const tarball = join(dir, packed.trim().split('\n').pop() as string);
      const project = join(dir, 'project');
      execFileSync('mkdir', [project]);
      writeFileSync(
        join(project, 'package.json'),
        '{ "name": "uses-latchkey", "private": true }\n',
      );
      execFileSync(
        'npm',
        [
          'install',
          '--offline',
          '--no-audit',
          '--no-fund',
          '--silent',
          tarball,
          join(root, 'node_modules/ioredis'),
        ],
        { cwd: project, stdio: 'ignore' },
      );
      const npx = { cwd: project, command: ['npx', '--no', 'latchkey'], group: true };
      const name = fresh('pack');

      const watcher = start(['watch', name, '--json'], npx);
      await watcher.waitFor(/"event":"now"/);
      const holder = start(['lock', name, '--', ...UNTIL_TERM], npx);
      const [, first] = await holder.waitFor(/ready (\d+)/);
      await watcher.waitFor(/"event":"acquired"/);
      expect(await inspectJson(name)).toMatchObject({
        locked: true,
        lastFencingToken: Number(first),
      });
      const inspected = await run(['inspect', name, '--json'], npx);
      expect(JSON.parse(inspected.stdout)).toMatchObject({
        locked: true,
        lastFencingToken: Number(first),
      });

      const waiter = await startQueuedWaiter(name, npx);
      expect((await run(['release', '--force', name], npx)).code).toBe(0);
      expect(await waiter.exited).toBe(0);
      expect(Number(waiter.stdout.match(/token=(\d+)/)?.[1])).toBeGreaterThan(Number(first));
      expect(await holder.exited).toBe(125);
      await watcher.waitFor(/"event":"holder"/);
      await watcher.waitFor(/"event":"released"/);
      watcher.signal('SIGINT');
      // npm itself dies of the SIGINT once the bin has exited.
      expect([0, 128 + constants.signals.SIGINT]).toContain(await watcher.exited);

      // Installed without a client: the command names both it could use.
      const bare = join(dir, 'bare');
      execFileSync('mkdir', [bare]);
      writeFileSync(join(bare, 'package.json'), '{ "name": "no-client", "private": true }\n');
      execFileSync(
        'npm',
        ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball],
        {
          cwd: bare,
          stdio: 'ignore',
        },
      );
      const clientless = await run(['inspect', name], { ...npx, cwd: bare });
      expect(clientless.code).toBe(69);
      expect(clientless.stderr).toContain('install ioredis or redis (node-redis)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
