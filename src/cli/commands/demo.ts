/** `latchkey demo`: the repository's demo, run as a process of its own (needs a source checkout). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from '../exit-codes.js';

export const DEMO_USAGE = `usage: latchkey demo [--duration s] [--workers n] [--ttl ms]

Contending workers, a paused and a killed holder, fencing in action, checked at the end. Needs a
source checkout of latchkey with its dev dependencies (\`npm ci\`); the demo starts its own
redis-server unless REDIS_URL is set.`;

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export async function demoCommand(args: string[]): Promise<number> {
  const demo = join(root, 'demo/main.ts');
  if (!existsSync(demo)) {
    throw new CliError(
      'latchkey demo: the demo ships with the source repository, not the npm package',
      EXIT.UNAVAILABLE,
    );
  }
  let tsx: string;
  try {
    tsx = createRequire(join(root, 'package.json')).resolve('tsx');
  } catch {
    throw new CliError(
      'latchkey demo: run `npm ci` in the repository first (tsx is missing)',
      EXIT.UNAVAILABLE,
    );
  }
  const child = spawn(process.execPath, ['--import', tsx, demo, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return await new Promise((resolve) =>
    child.on('exit', (code, signal) =>
      resolve(code ?? EXIT.SIGNAL_BASE + (signal ? constants.signals[signal] : 0)),
    ),
  );
}
