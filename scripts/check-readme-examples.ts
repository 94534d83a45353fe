/**
 * Type-checks every TypeScript block of README.md and docs/**.md against the package's own source,
 * so an example cannot drift from the API it shows. Each block becomes a module in
 * .tmp/readme-examples/ (gitignored; look there when a message is unclear), `latchkey` and its
 * subpaths resolve to src/ through the package's "exports", and errors are reported at the
 * Markdown line they come from. Exits 1 on any error.
 *
 * Blocks are read as if they came after the Quick start: `locker` exists, and the application's
 * own functions and values (`chargeCard`, `order`, …) are declared in PRELUDE below. Keep it small
 * and typed as the examples use it, so a wrong argument in an example still fails.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import {
  type CodeExample,
  exampleFileName,
  exampleModule,
  extractExamples,
  markdownPosition,
} from './markdown-examples.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const outDir = join(root, '.tmp/readme-examples');

/** The free identifiers the examples use on purpose: the reader's application, not latchkey's. */
const PRELUDE = `
type Order = { readonly id: string };
declare const locker: import('latchkey').Locker;
declare const order: Order;
declare const job: { readonly id: string };
declare const from: string;
declare const to: string;
declare const signal: AbortSignal;
declare const next: Config;
type Config = Record<string, unknown>;
type Fenced = { signal: AbortSignal; fencingToken: number };
declare function chargeCard(order: Order, options: Fenced): Promise<void>;
declare function buildReport(options: { signal: AbortSignal }): Promise<string>;
declare function postEntry(): Promise<void>;
declare function transfer(options: {
  signal: AbortSignal;
  fencingTokens: ReadonlyMap<string, number>;
}): Promise<void>;
declare function runScheduler(options: { signal: AbortSignal; term: number }): Promise<void>;
declare function runQuery(options: Fenced): Promise<void>;
declare function exportRows(options: { signal: AbortSignal }): Promise<number>;
declare function loadConfig(options: { signal: AbortSignal }): Promise<Config>;
declare function saveConfig(config: Config, options: Fenced): Promise<void>;
declare function publishConfig(config: Config, options: { signal: AbortSignal }): Promise<void>;
`;

/** `latchkey`, `latchkey/ioredis`, … → their sources, read off package.json "exports". */
function sourcePaths(): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { default: string }>;
  };
  const paths: Record<string, string[]> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = typeof target === 'string' ? target : target.default;
    const match = /^\.\/dist\/(.+)\.js$/.exec(built);
    if (!match) continue;
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    paths[specifier] = [join(root, `src/${match[1]}.ts`)];
  }
  return paths;
}

function markdownFiles(): string[] {
  const docs = join(root, 'docs');
  const files = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // docs/api is TypeDoc's output, not ours.
      if (entry.isDirectory() && path !== join(docs, 'api')) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(relative(root, path));
    }
  };
  if (existsSync(docs)) walk(docs);
  return files;
}

const examples = markdownFiles().flatMap((file) =>
  extractExamples(readFileSync(join(root, file), 'utf8'), file),
);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const byFile = new Map<string, CodeExample>();
for (const example of examples) {
  const path = join(outDir, exampleFileName(example));
  writeFileSync(path, exampleModule(example));
  byFile.set(path, example);
}
const prelude = join(outDir, 'prelude.d.ts');
writeFileSync(prelude, `// Written by scripts/check-readme-examples.ts.\n${PRELUDE}`);

// The project's compiler options (strict, NodeNext, the Disposable lib for `await using`), so the
// examples compile the way the README tells users to compile.
const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  },
);
if (!config) throw new Error('tsconfig.json could not be read');
const program = ts.createProgram({
  rootNames: [prelude, ...byFile.keys()],
  // An example may show a value without using it (`const { holders } = await pool.inspect()`).
  options: {
    ...config.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    paths: sourcePaths(),
  },
});

let errors = 0;
for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  const file = diagnostic.file;
  const example = file && byFile.get(resolve(file.fileName));
  // The library's own errors are `npm run typecheck`'s to report; only the examples (and the
  // prelude) are this check's.
  if (file && !example && resolve(file.fileName) !== prelude) continue;
  errors++;
  if (file && example && diagnostic.start !== undefined) {
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start);
    const code = example.code.split('\n')[line] ?? '';
    const at = markdownPosition(example, line + 1, character + 1);
    console.error(`${at} - error TS${diagnostic.code}: ${message}\n    ${code.trim()}`);
  } else {
    const where = file ? `${relative(root, file.fileName)}: ` : '';
    console.error(`${where}error TS${diagnostic.code}: ${message}`);
  }
}
if (errors > 0) {
  console.error(
    `\n${errors} error(s) in the Markdown examples (modules in ${relative(root, outDir)}/)`,
  );
  process.exit(1);
}
console.log(`${examples.length} Markdown examples compile`);
