// Keeps one service process of the local run alive as Cloud Run would: one that exits unexpectedly is started again after a backoff.
//
// The backoff doubles with each exit that follows a short run, up to a cap, and starts over once a
// process has run healthy for a while, so a crash loop neither spins the CPU nor waits forever after a
// single crash. Each exit and restart is said in one line (which service, code or signal, restart
// number, delay): a restart hides no failure. Nothing else of the run (the emulator, the other
// services) is touched; what a dead worker held unacknowledged, Pub/Sub delivers again.
import type { ChildProcess } from 'node:child_process';

export interface RestartPolicy {
  /** Delay before the first restart after a short run (ms). Default: 500. */
  readonly initialDelayMs: number;
  /** Each further restart in a row waits this many times longer. Default: 2. */
  readonly factor: number;
  /** Longest delay (ms). Default: 30000. */
  readonly maxDelayMs: number;
  /** A process that ran at least this long before it exited was healthy: the next delay is initialDelayMs again (ms). Default: 60000. */
  readonly healthyAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 500, factor: 2, maxDelayMs: 30_000, healthyAfterMs: 60_000 };

/** The delay before the `inARow`-th restart in a row (1 = the first after a healthy run). */
export function restartDelayMs(policy: RestartPolicy, inARow: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, inARow - 1));
}

export interface SupervisedServiceOptions {
  /** Name in log lines, e.g. "worker-0". */
  readonly name: string;
  /** Starts one incarnation of the service. */
  readonly spawn: () => ChildProcess;
  readonly policy?: RestartPolicy;
  /** Receives one line per start, exit and restart (no trailing newline). */
  readonly log: (line: string) => void;
  /** Clock for how long a process ran (ms). Default: Date.now. */
  readonly nowMs?: () => number;
}

export class SupervisedService {
  readonly name: string;
  readonly #o: SupervisedServiceOptions;
  readonly #policy: RestartPolicy;
  readonly #nowMs: () => number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #startedAtMs = 0;
  #inARow = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  /** Restarts so far (the number in the log lines). */
  restarts = 0;

  constructor(o: SupervisedServiceOptions) {
    this.name = o.name;
    this.#o = o;
    this.#policy = o.policy ?? DEFAULT_RESTART_POLICY;
    this.#nowMs = o.nowMs ?? Date.now;
  }

  /** The running incarnation's pid, if one is running. */
  get pid(): number | undefined {
    return this.#running() ? this.#child?.pid : undefined;
  }

  start(): void {
    if (this.#shuttingDown) return;
    const child = this.#o.spawn();
    this.#child = child;
    this.#startedAtMs = this.#nowMs();
    this.#exited = new Promise<void>((resolve) => {
      let settled = false;
      const onEnd = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
        if (settled) return;
        settled = true;
        resolve();
        if (!this.#shuttingDown) this.#scheduleRestart(code, signal, error);
      };
      child.once('exit', (code, signal) => onEnd(code, signal));
      // A process that could not be started at all emits 'error' and no 'exit'.
      child.once('error', (err) => {
        if (child.pid === undefined) onEnd(null, null, err);
      });
    });
    this.#o.log(`${this.restarts === 0 ? 'started' : 'restarted'} ${this.name} (pid ${child.pid ?? 'none'}${this.restarts === 0 ? '' : `, restart ${this.restarts}`})`);
  }

  /** From now on an exit is expected: no restart, and a pending one is cancelled. Idempotent. */
  shutdown(): void {
    this.#shuttingDown = true;
    clearTimeout(this.#restartTimer);
  }

  /** Sends a signal to the running incarnation, if any. */
  signal(signal: NodeJS.Signals): void {
    if (this.#running()) this.#child!.kill(signal);
  }

  /** Resolves once no incarnation is running (at once when none is). */
  exited(): Promise<void> {
    return this.#exited;
  }

  #running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null && this.#child.pid !== undefined;
  }

  #scheduleRestart(code: number | null, signal: NodeJS.Signals | null, error: Error | undefined): void {
    const ranMs = this.#nowMs() - this.#startedAtMs;
    this.#inARow = ranMs >= this.#policy.healthyAfterMs ? 1 : this.#inARow + 1;
    this.restarts++;
    const delayMs = restartDelayMs(this.#policy, this.#inARow);
    const how = error ? `could not start: ${error.message}` : signal ? `signal ${signal}` : `exit code ${code}`;
    this.#o.log(`${this.name} exited unexpectedly (${how}) after ${(ranMs / 1000).toFixed(1)} s; restart ${this.restarts} in ${(delayMs / 1000).toFixed(1)} s`);
    this.#restartTimer = setTimeout(() => this.start(), delayMs);
  }
}
