// API reference: `npm run docs` writes it to docs/api/, which is built (here and in CI), not committed.
import { exportedSources } from './scripts/typedoc-entry-points.mjs';

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  entryPoints: [...exportedSources().keys()],
  plugin: ['./scripts/typedoc-entry-points.mjs'],
  tsconfig: 'tsconfig.build.json',
  out: 'docs/api',
  // A warning is a broken link, an undocumented export or a public type users cannot import: fail.
  treatWarningsAsErrors: true,
  // `npm test` type-checks the same sources just before (`npm run typecheck`); checking them again
  // here would double the time of this step.
  skipErrorChecking: true,
  validation: { notExported: true, invalidLink: true, invalidPath: true, notDocumented: true },
  // Every exported declaration needs a comment; members of a documented type may rely on their
  // names (`code`, `name`, option fields already carry their own comments where they need one).
  requiredToBeDocumented: [
    'Enum',
    'Variable',
    'Function',
    'Class',
    'Interface',
    'TypeAlias',
    'Method',
    'Accessor',
  ],
  // The repository has no public remote yet, so there is nothing to link sources to.
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
};
