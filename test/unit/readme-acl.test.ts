/** The README shows the ACL rule the conformance suites run under, word for word. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LATCHKEY_ACL_RULE, LATCHKEY_CLUSTER_ACL_ADDITIONS } from '../helpers/acl.js';

describe('README › least privilege', () => {
  it('shows exactly the ACL rule the conformance suites connect with', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const line = readme.split('\n').find((text) => text.startsWith('ACL SETUSER latchkey on '));
    expect(line).toBeDefined();
    expect(line?.replace(/^ACL SETUSER latchkey on >your-password /, '')).toBe(
      LATCHKEY_ACL_RULE.join(' '),
    );
  });

  it('shows exactly the additions the Cluster conformance suites connect with', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme.split('\n')).toContain(LATCHKEY_CLUSTER_ACL_ADDITIONS.join(' '));
  });
});
