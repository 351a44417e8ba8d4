// Runs a service's main.ts as a child process for tests: its JSON log lines parsed, waiting for an event, SIGTERM to stop; every one started is killed by stopAllServices().
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = path.join(REPO_ROOT, 'node_modules/.bin/node');

export interface LogLine {
  readonly level?: unknown;
  readonly event?: unknown;
  readonly [field: string]: unknown;
}

export interface ServiceProcess {
  /** Every stdout line, parsed (a line that is not JSON is kept as {raw}). */
  readonly lines: LogLine[];
  stderr(): string;
  /** The first log line with this event (also one already seen); rejects if the process exits first. */
  line(event: string): Promise<LogLine>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash: nothing runs after it); resolves once the process is gone. */
  kill(): Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** SIGKILLs every service still running (an after() hook). */
export function stopAllServices(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Starts `entry` (a path from the repository root) with `env` added to this process's environment. */
export function startService(entry: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(NODE, [path.join(REPO_ROOT, entry)], { cwd: REPO_ROOT, env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: LogLine[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (raw) => {
    try {
      lines.push(JSON.parse(raw) as LogLine);
    } catch {
      lines.push({ raw });
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const line = (event: string) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => l.event === event);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
      void exited.then((code) => reject(new Error(`${entry} exited (${code}) before logging ${event}:\n${stderr}\n${JSON.stringify(lines)}`)));
    });
  return {
    lines,
    stderr: () => stderr,
    line,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}
