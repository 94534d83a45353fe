#!/usr/bin/env node
/**
 * The `latchkey` command. For now it runs the demo from a source checkout; it only uses public
 * pieces of the package and spawns the demo as its own process.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: latchkey <command> [options]

commands:
  demo [--duration s] [--workers n] [--ttl ms]   contending workers, a paused and a killed holder,
                                                 fencing in action (needs a source checkout)
  help                                           this text`;

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function runDemo(args: string[]): void {
  const demo = join(root, 'demo/main.ts');
  if (!existsSync(demo)) {
    process.stderr.write(
      'latchkey demo: the demo ships with the source repository, not the npm package\n',
    );
    process.exit(2);
  }
  let tsx: string;
  try {
    tsx = createRequire(join(root, 'package.json')).resolve('tsx');
  } catch {
    process.stderr.write('latchkey demo: run `npm ci` in the repository first (tsx is missing)\n');
    process.exit(2);
  }
  const child = spawn(process.execPath, ['--import', tsx, demo, ...args], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'demo':
    runDemo(rest);
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(`${USAGE}\n`);
    break;
  default:
    process.stderr.write(`latchkey: unknown command "${command}"\n${USAGE}\n`);
    process.exit(2);
}
