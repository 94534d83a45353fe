/**
 * The Node matrix (scripts/node-matrix.ts) starts vitest with another Node binary and sets
 * LATCHKEY_TEST_NODE to its version: the tests, and the processes they start through
 * process.execPath or as `node` on PATH (the CLI's shebang, npx), must all run that version.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const expected = process.env.LATCHKEY_TEST_NODE;

function versionOf(command: string): string {
  return execFileSync(command, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
}

describe('Node version', () => {
  it('a process started through process.execPath runs the same Node as the tests', () => {
    expect(versionOf(process.execPath)).toBe(process.versions.node);
  });

  it.runIf(expected)('under the Node matrix, the tests and `node` on PATH run its version', () => {
    expect(process.versions.node).toBe(expected);
    expect(versionOf('node')).toBe(expected);
  });
});
