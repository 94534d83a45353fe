/**
 * The pure part of check-readme-examples.ts: find the TypeScript blocks of a Markdown file, and
 * turn a compiler position in one of them back into the Markdown line it came from.
 */

/** A fenced TypeScript block of a Markdown file. */
export interface CodeExample {
  /** The Markdown file, as given. */
  readonly file: string;
  /** 1-based line of the opening fence; the block's first line of code is the next one. */
  readonly fenceLine: number;
  /** The code between the fences, without them. */
  readonly code: string;
}

/** Languages that are compiled; any other block (`sh`, `text`, a bare fence) is left alone. */
const TYPESCRIPT = new Set(['ts', 'typescript']);

/**
 * Opts a block out of the check: ```` ```ts nocompile ````. Meant for the rare block that cannot
 * compile by design (a deliberate mistake shown next to its fix); say why in the text beside it.
 */
export const NO_COMPILE = 'nocompile';

/**
 * Every TypeScript block of `markdown` that is not opted out. Fences are CommonMark's: three or
 * more backticks or tildes, indented up to three spaces, closed by a fence of the same character
 * at least as long; a block left open runs to the end of the file.
 */
export function extractExamples(markdown: string, file: string): CodeExample[] {
  const lines = markdown.split(/\r?\n/);
  const examples: CodeExample[] = [];
  let open: { fence: string; line: number; compile: boolean; body: string[] } | undefined;
  lines.forEach((text, index) => {
    if (open === undefined) {
      const start = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)(.*)$/.exec(text);
      if (!start) return;
      const [, fence = '', lang = '', rest = ''] = start;
      const compile = TYPESCRIPT.has(lang.toLowerCase()) && !rest.split(/\s+/).includes(NO_COMPILE);
      open = { fence, line: index + 1, compile, body: [] };
      return;
    }
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(text)?.[1] ?? '';
    if (close[0] === open.fence[0] && close.length >= open.fence.length) {
      if (open.compile) examples.push({ file, fenceLine: open.line, code: open.body.join('\n') });
      open = undefined;
      return;
    }
    open.body.push(text);
  });
  if (open?.compile) examples.push({ file, fenceLine: open.line, code: open.body.join('\n') });
  return examples;
}

/**
 * The module written for `example`. Its lines are the block's lines, so line n of the module is
 * line `fenceLine + n` of the Markdown file; `export {}` at the end makes it a module (top-level
 * `await`, no clash between blocks) even when it imports nothing.
 */
export function exampleModule(example: CodeExample): string {
  return `${example.code}\nexport {};\n`;
}

/** The Markdown position of 1-based `line`, `column` of `example`'s module. */
export function markdownPosition(example: CodeExample, line: number, column: number): string {
  return `${example.file}:${example.fenceLine + line}:${column}`;
}

/** The module's file name: where it came from, readable in a listing of .tmp/readme-examples/. */
export function exampleFileName(example: CodeExample): string {
  const base = example.file.replace(/\.md$/i, '').replace(/[^A-Za-z0-9]+/g, '-');
  return `${base}-line-${example.fenceLine}.ts`;
}
