/**
 * `-- @include <name>` in a Lua script stands for the text of lua/include/<name>.lua: fragments the
 * scripts share (local functions taking explicit parameters) are written once. Redis gets the
 * expanded text, and its SHA1 is of that text.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const INCLUDE = /^-- @include ([a-z0-9-]+)$/gm;

/** The names a script includes, in order. */
export function includedNames(lua: string): string[] {
  return [...lua.matchAll(INCLUDE)].map((match) => match[1] as string);
}

/** `lua` with every include line replaced by its fragment (fragments do not include others). */
export function expandIncludes(lua: string, luaDir: string): string {
  return lua.replace(INCLUDE, (_line, name: string) =>
    readFileSync(join(luaDir, 'include', `${name}.lua`), 'utf8').trimEnd(),
  );
}
