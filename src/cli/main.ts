#!/usr/bin/env node
/**
 * The `latchkey` command: runs a command under a lock, inspects and watches locks, and lets an
 * operator take a stuck lock over. A thin layer over the public API; each command is a module in
 * ./commands, and every failure ends as one line on stderr and an exit code from ./exit-codes.
 */
import { isLockError } from '../index.js';
import { wantsHelp } from './args.js';
import { DEMO_USAGE, demoCommand } from './commands/demo.js';
import { INSPECT_USAGE, inspectCommand } from './commands/inspect.js';
import { LOCK_USAGE, lockCommand } from './commands/lock.js';
import { RELEASE_USAGE, releaseCommand } from './commands/release.js';
import { WATCH_USAGE, watchCommand } from './commands/watch.js';
import { describe } from './connect.js';
import { CliError, EXIT } from './exit-codes.js';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; usage: string }> = {
  lock: { run: lockCommand, usage: LOCK_USAGE },
  inspect: { run: inspectCommand, usage: INSPECT_USAGE },
  watch: { run: watchCommand, usage: WATCH_USAGE },
  release: { run: releaseCommand, usage: RELEASE_USAGE },
  demo: { run: demoCommand, usage: DEMO_USAGE },
};

const USAGE = `usage: latchkey <command> [options]

Distributed locks on Redis from the shell. Redis is REDIS_URL, or --url (default redis://127.0.0.1:6379).

commands:
  lock NAME [--ttl ms] [--wait ms] -- COMMAND [ARGS…]
                          run COMMAND while holding the lock NAME
  inspect NAME [--json]   holder, time left, last fencing token, waiters
  watch NAME [--json]     print each change of the lock until Ctrl-C
  release --force NAME    end the current hold of NAME (an operator's takeover)
  demo                    contending workers, faults and fencing (source checkout only)
  help [COMMAND]          this text, or a command's (also: latchkey COMMAND --help)`;

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && args[0] !== undefined ? COMMANDS[args[0]] : undefined;
    if (name === 'help' && args[0] !== undefined && !topic) {
      throw new CliError(
        `latchkey: unknown command "${args[0]}" (see latchkey --help)`,
        EXIT.USAGE,
      );
    }
    process.stdout.write(`${topic?.usage ?? USAGE}\n`);
    return EXIT.OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    throw new CliError(`latchkey: unknown command "${name}" (see latchkey --help)`, EXIT.USAGE);
  }
  if (wantsHelp(args)) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.OK;
  }
  return await command.run(args);
}

/** The exit code and one line for a failure that is not the command's own. */
function failure(error: unknown): [number, string] {
  if (error instanceof CliError) return [error.code, error.message];
  if (isLockError(error)) {
    // A bad name (too long, ill-formed) is the caller's; the rest comes from Redis or the client.
    const code = error.code === 'ERR_LOCK_INVALID_ARGUMENT' ? EXIT.USAGE : EXIT.UNAVAILABLE;
    return [code, `latchkey: ${describe(error)}`];
  }
  return [EXIT.SOFTWARE, `latchkey: unexpected failure: ${describe(error)}`];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const [code, message] = failure(error);
    process.stderr.write(`${message}\n`);
    process.exit(code);
  },
);
