// The chaos suite's child processes: start with an environment, log to a file, SIGKILL or SIGTERM, and see their JSON stdout lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../test/helpers/json-lines.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE = process.execPath;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the first JSON line on stdout or stderr that `match` accepts (also one already seen); rejects if the process exits first. */
  line(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after graceMs; waits. Returns the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `node <script> …args` from the repository root, its output appended to <logDir>/<name>.log. */
export function startProcess(name: string, script: string, args: readonly string[], env: Record<string, string>, logDir: string): RunningProcess {
  const child = spawn(NODE, [path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  live.add(child);
  const log: WriteStream = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const seen: Array<Record<string, unknown>> = [];
  const waiters: Array<(l: Record<string, unknown>) => void> = [];
  let running = true;
  const onText = (stream: Readable) => {
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => log.write(d));
    onJsonLines(stream, (l) => {
      // Keep only the first lines (start-up) and the last few: a long run logs a lot.
      if (seen.length < 50) seen.push(l);
      for (const w of [...waiters]) w(l);
    });
  };
  onText(child.stdout!);
  onText(child.stderr!);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running = false;
      live.delete(child);
      log.end();
      resolve(code);
    }),
  );
  const self: RunningProcess = {
    name,
    pid: child.pid,
    exited,
    isRunning: () => running,
    line: (match, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const already = seen.find(match);
        if (already) return resolve(already);
        const timer = setTimeout(() => reject(new Error(`${name}: no matching line within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((l) => {
          if (match(l)) {
            clearTimeout(timer);
            resolve(l);
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before the expected line; see ${name}.log`));
        });
      }),
    kill: async () => {
      if (running) child.kill('SIGKILL');
      await exited;
    },
    stop: async (graceMs = 30_000) => {
      if (running) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return self;
}
