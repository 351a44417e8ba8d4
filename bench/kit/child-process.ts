// Benchmark helpers: Node child processes that report on stdout as JSON lines, and the CPU time and peak memory of a process.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onJsonLines } from '../../test/helpers/json-lines.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Child {
  readonly pid: number;
  /** The exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves with the first JSON line on stdout that `match` accepts (also one already seen); rejects if the child exits first. */
  line(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Called for every JSON line from now on. */
  onLine(listener: (l: Record<string, unknown>) => void): void;
  /** The latest JSON line on stdout. */
  last(): Record<string, unknown>;
  /** SIGTERM, SIGKILL after 30 s; waits for the exit. */
  stop(): Promise<number | null>;
}

/** Lines kept for line(): the first ones (start-up) and a recent window. */
const KEPT_LINES = 1000;

const children = new Set<ChildProcess>();
process.on('exit', killChildren);

/** SIGKILLs every child still running (after a failure, before the emulator goes). */
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** Runs `node <args>` from the repository root with `env` added to ours. */
export function spawnChild(args: readonly string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const lines: Array<Record<string, unknown>> = [];
  const listeners: Array<(l: Record<string, unknown>) => void> = [];
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
  onJsonLines(proc.stdout!, (l) => {
    lines.push(l);
    if (lines.length > KEPT_LINES) lines.splice(KEPT_LINES / 10, KEPT_LINES / 2);
    for (const listener of listeners) listener(l);
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return {
    pid: proc.pid!,
    exited,
    line: (match) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(match);
        if (seen) return resolve(seen);
        listeners.push((l) => match(l) && resolve(l));
        void exited.then((code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${stderr}`)));
      }),
    onLine: (listener) => listeners.push(listener),
    last: () => lines.at(-1) ?? {},
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const CLOCK_TICKS_PER_S = 100;

/** The fields of /proc/<pid>/stat after the parenthesised command name (undefined when the process is gone). */
async function statFields(pid: number | string): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : undefined;
}

/** utime + stime (fields 14 and 15 of the whole line) in seconds. */
const cpuOf = (fields: readonly string[]) => (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS_PER_S;

/** CPU time (user + system, s) a process has used. */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = await statFields(pid);
  return fields ? cpuOf(fields) : 0;
}

/** CPU time of every live process in process group `pgid` (the emulator runs java under gcloud). */
export async function groupCpuSeconds(pgid: number): Promise<number> {
  let total = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = await statFields(entry);
    if (fields && Number(fields[2]) === pgid) total += cpuOf(fields);
  }
  return total;
}

/** Samples a process's resident memory every 500 ms; stop() returns the peak (VmHWM, which the kernel keeps). */
export function peakRssSampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  const read = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
  };
  const timer = setInterval(() => void read(), 500);
  return {
    stop: async () => {
      clearInterval(timer);
      await read();
      return peak;
    },
  };
}
