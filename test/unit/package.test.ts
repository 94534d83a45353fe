/**
 * The published shape: every `exports` entry resolves to built files, and an adapter's entry point
 * never loads the other client library (or any client library: adapters import client types only).
 * Reads the build output of `npm run build`, which `npm test` runs first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional: boolean }>;
};
const built = existsSync(join(root, 'dist/index.js'));

/** Every bare module specifier reachable from `entry` through static and dynamic imports. */
function bareImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    // Comments may show imports (`import { createLocker } from 'latchkey/node-redis'`): skip them.
    const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
    for (const match of source.matchAll(
      /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g,
    )) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? '';
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else bare.add(specifier);
    }
  };
  visit(entry);
  return bare;
}

describe.skipIf(!built)('package', () => {
  it('has no runtime dependencies; client libraries are optional peers', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependenciesMeta.ioredis?.optional).toBe(true);
    expect(pkg.peerDependenciesMeta.redis?.optional).toBe(true);
  });

  it.each(Object.entries(pkg.exports).filter(([, target]) => typeof target !== 'string'))(
    'export %s resolves to built files with types',
    (_, target) => {
      const { types, default: code } = target as { types: string; default: string };
      expect(existsSync(join(root, types))).toBe(true);
      expect(existsSync(join(root, code))).toBe(true);
    },
  );

  it.each([
    ['./ioredis', /^(redis|@redis\/|ioredis)/],
    ['./node-redis', /^(redis|@redis\/|ioredis)/],
    ['.', /^(redis|@redis\/|ioredis)/],
  ])('entry %s loads no client library at run time', (entry, forbidden) => {
    const target = pkg.exports[entry] as { default: string };
    const imports = [...bareImports(join(root, target.default))];
    expect(imports.filter((specifier) => forbidden.test(specifier))).toEqual([]);
    expect(imports.every((specifier) => specifier.startsWith('node:'))).toBe(true);
  });

  it('entry ./opentelemetry loads @opentelemetry/api (an optional peer) and nothing else outside node:', () => {
    expect(pkg.peerDependenciesMeta['@opentelemetry/api']?.optional).toBe(true);
    const target = pkg.exports['./opentelemetry'] as { default: string };
    const imports = [...bareImports(join(root, target.default))];
    expect(imports.filter((specifier) => !specifier.startsWith('node:'))).toEqual([
      '@opentelemetry/api',
    ]);
  });
});
