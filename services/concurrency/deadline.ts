// A point in time by which a step must have finished, and racing a promise against it: how a shutdown stays inside Cloud Run's 10 s.

/** A point in time (monotonic clock) by which a step must have finished. */
export class Deadline {
  /** performance.now() at the deadline. */
  readonly atMs: number;

  constructor(atMs: number) {
    this.atMs = atMs;
  }

  /** The deadline `ms` from now. */
  static after(ms: number): Deadline {
    return new Deadline(performance.now() + ms);
  }

  /** Milliseconds left (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.atMs - performance.now());
  }

  /** Whether `promise` settled before the deadline: 'done', 'failed' (it rejected; `error` says why) or 'timed_out' (it keeps running, unobserved). */
  async race<T>(promise: Promise<T>): Promise<StepOutcome<T>> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<StepOutcome<T>>((resolve) => {
      timer = setTimeout(() => resolve({ status: 'timed_out' }), this.remainingMs());
    });
    const settled = promise.then(
      (value): StepOutcome<T> => ({ status: 'done', value }),
      (error: unknown): StepOutcome<T> => ({ status: 'failed', error }),
    );
    try {
      return await Promise.race([settled, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export type StepOutcome<T> = { readonly status: 'done'; readonly value: T } | { readonly status: 'failed'; readonly error: unknown } | { readonly status: 'timed_out' };

/**
 * The part of a shutdown budget kept back at the end of each step before the last: min(1 s, budget / 6). A service's
 * stop then has deadlines at budget − 2·reserve, budget − reserve and budget (worker, checker, gateway alike).
 */
export function shutdownReserveMs(budgetMs: number): number {
  return Math.min(1000, Math.floor(budgetMs / 6));
}
