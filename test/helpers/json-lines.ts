// Reads a child process's output stream as JSON log lines: each complete line that parses as a JSON object.
import type { Readable } from 'node:stream';

/** Calls `onLine` with every line of `stream` that is a JSON object; other lines (and unparsable ones) are skipped. */
export function onJsonLines(stream: Readable, onLine: (line: Record<string, unknown>) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!text.startsWith('{')) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      onLine(line);
    }
  });
}
