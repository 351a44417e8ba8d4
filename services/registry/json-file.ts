// Reads a JSON file and, when it is malformed, says which file and which line and column.
import { readFile } from 'node:fs/promises';
import { HourglassError } from '../errors/catalogue.ts';
import { jsonErrorOffset } from './json-error-offset.ts';

/** Parses `text` as JSON; a syntax error names `file` and the line and column of the fault. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const offset = jsonErrorOffset(text);
    const where = offset >= 0 ? lineAndColumn(text, offset) : undefined;
    const at = where ? `:${where.line}:${where.column}` : '';
    throw new HourglassError('HG_REGISTRY_BAD_FILE', `${file}${at}: invalid JSON (${message})`, { cause: err });
  }
}

/** Reads and parses a JSON file (see parseJsonText). */
export async function readJsonFile(file: string): Promise<unknown> {
  return parseJsonText(await readFile(file, 'utf8'), file);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
