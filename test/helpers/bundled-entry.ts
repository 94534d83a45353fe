/**
 * Worker processes start from a bundle of their TypeScript entry, not through tsx: the tsx loader
 * costs a child about 0.5 s of CPU at start (its own start-up and compiling each imported file),
 * and the suites spawn a few hundred children on a 2-core machine. esbuild bundles our sources into
 * one ES module and leaves packages (ioredis, redis) to Node's own resolution.
 */
import { mkdirSync, renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Inside the repository, so that the bundle's imports of packages find its node_modules.
const bundleDir = join(repoRoot, '.tmp', 'bundles');
const built = new Map<string, string>();

/**
 * The path of a runnable bundle of `entry` (an absolute .ts path), built once per process so that
 * it always matches the sources under test. Parallel test files may build the same entry at once:
 * each writes its own file and renames it into place, which is atomic.
 */
export function bundledEntry(entry: string): string {
  const known = built.get(entry);
  if (known) return known;
  mkdirSync(bundleDir, { recursive: true });
  const outfile = join(bundleDir, `${basename(entry, '.ts')}.mjs`);
  const partial = `${outfile}.${process.pid}.tmp`;
  buildSync({
    entryPoints: [entry],
    outfile: partial,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  renameSync(partial, outfile);
  built.set(entry, outfile);
  return outfile;
}
