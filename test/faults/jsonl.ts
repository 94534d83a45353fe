/**
 * Append-only JSON-lines files. Each record is written with one synchronous `write`, so a record is
 * on disk before the process can be stopped or killed, and a reader never sees half a line from a
 * process that is still alive (a killed one can leave at most one torn last line, which is skipped).
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

export class JsonlWriter {
  readonly #fd: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, 'a');
  }

  append(record: object): void {
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const records: T[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      // A torn last line from a SIGKILLed writer.
    }
  }
  return records;
}
