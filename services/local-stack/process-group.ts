// Starts a long-running child in its own process group and stops the whole group (gcloud spawns java under it).
//
// Every group started here is also killed when this process exits, even after a failed test, so no
// emulator outlives the test run that started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

const live = new Set<number>();
let exitHookInstalled = false;

function killAll(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAll);
  // 'exit' does not run when a signal ends the process (a test runner's timeout sends SIGTERM). When
  // nobody else handles the signal, kill the groups and end the way the signal would have.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return; // the program handles it, and stops its stack
      killAll();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export interface GroupProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the child has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the leader is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export function startGroup(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string } = {}): GroupProcess {
  installExitHook();
  const child = spawn(command, args, {
    detached: true,
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  live.add(pid);
  if (options.logFile) {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The leader is gone; make sure nothing it started lingers, and wait until the kernel agrees.
      signalGroup(pid, 'SIGKILL');
      for (let i = 0; i < 100 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      live.delete(pid);
    })();
    return stopping;
  };
  return { pid, child, exited, stop };
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // group already gone
  }
}
