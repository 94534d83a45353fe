/** The README example checker's pure part: which blocks it compiles, and where errors point. */
import { describe, expect, it } from 'vitest';
import {
  exampleFileName,
  exampleModule,
  extractExamples,
  markdownPosition,
} from '../../scripts/markdown-examples.js';

const markdown = [
  '# Title', // 1
  '', // 2
  '```ts', // 3
  "const a = 'ts';", // 4
  '```', // 5
  '```typescript', // 6
  'const b = 1;', // 7
  '```', // 8
  '```sh', // 9
  'npm test', // 10
  '```', // 11
  '```text', // 12
  'not code', // 13
  '```', // 14
  '```ts nocompile', // 15
  'const broken: number = "on purpose";', // 16
  '```', // 17
  '````ts', // 18
  '```', // 19: shorter than the opening fence, so still code
  '````', // 20
  '   ~~~TS', // 21
  'const c = 3;', // 22
  '~~~', // 23
  '```', // 24
  'a bare fence is not TypeScript', // 25
  '```', // 26
].join('\n');

describe('extractExamples', () => {
  const examples = extractExamples(markdown, 'README.md');

  it('finds ts and typescript blocks, with the line of their opening fence', () => {
    expect(examples.map(({ fenceLine, code }) => [fenceLine, code])).toEqual([
      [3, "const a = 'ts';"],
      [6, 'const b = 1;'],
      [18, '```'],
      [21, 'const c = 3;'],
    ]);
  });

  it('skips other languages, bare fences and blocks marked nocompile', () => {
    const code = examples.map((example) => example.code).join('\n');
    expect(code).not.toMatch(/npm test|not code|on purpose|bare fence/);
  });

  it('keeps a block left open at the end of the file', () => {
    expect(extractExamples('text\n```ts\nconst open = 1;\n', 'x.md')).toEqual([
      { file: 'x.md', fenceLine: 2, code: 'const open = 1;\n' },
    ]);
  });

  it('reads CRLF files', () => {
    expect(extractExamples('```ts\r\nconst a = 1;\r\n```\r\n', 'x.md')[0]?.code).toBe(
      'const a = 1;',
    );
  });
});

describe('exampleModule', () => {
  it("keeps the block's lines in place and makes it a module", () => {
    const module = exampleModule({ file: 'README.md', fenceLine: 3, code: 'a\nb' });
    expect(module.split('\n').slice(0, 2)).toEqual(['a', 'b']);
    expect(module).toMatch(/^export \{\};$/m);
  });
});

describe('markdownPosition', () => {
  it('maps a line of the module to the Markdown line below the fence', () => {
    const example = { file: 'docs/kinds.md', fenceLine: 40, code: 'a\nb\nc' };
    expect(markdownPosition(example, 1, 1)).toBe('docs/kinds.md:41:1');
    expect(markdownPosition(example, 3, 7)).toBe('docs/kinds.md:43:7');
  });
});

describe('exampleFileName', () => {
  it('says where the block came from', () => {
    expect(exampleFileName({ file: 'docs/how-it-works.md', fenceLine: 12, code: '' })).toBe(
      'docs-how-it-works-line-12.ts',
    );
  });
});
