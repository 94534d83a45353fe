/**
 * TypeDoc's entry points and page names, both read from package.json "exports": a new subpath is
 * documented without touching the TypeDoc config, and each page is named by the specifier users
 * import (`latchkey/ioredis`), not by where the file happens to live in src/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Converter, ReflectionKind } from 'typedoc';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));

/**
 * Source file (relative to the package root) → import specifier, for every "exports" entry built
 * from src/ (`./dist/x/y.js` ← `src/x/y.ts`). Entries whose source is not there yet are skipped, so
 * a subpath whose module is still being written does not break the docs build.
 */
export function exportedSources() {
  const sources = new Map();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = typeof target === 'string' ? target : target.default;
    const match = /^\.\/dist\/(.+)\.js$/.exec(built);
    if (!match) continue; // ./package.json and the like
    const source = `src/${match[1]}.ts`;
    if (!existsSync(resolve(root, source))) continue;
    sources.set(source, subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);
  }
  return sources;
}

/** TypeDoc plugin: names each entry module after its import specifier. */
export function load(app) {
  const specifiers = exportedSources();
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const file = context.getSymbolFromReflection(module)?.declarations?.[0]?.getSourceFile();
      const specifier = file && specifiers.get(relative(root, file.fileName));
      if (specifier) module.name = specifier;
    }
  });
}
