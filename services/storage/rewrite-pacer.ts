// Paces the rewrites of fixed object names (a replica's state files) to Cloud Storage's one write per second per name.
//
// A write is timed from when the previous one of the same name settled (landed or failed): the
// write-rate guard counts from when a write landed, which is never later, so paced writes never trip it.
import { MIN_REWRITE_INTERVAL_MS } from './write-rate-guard.ts';

export class RewritePacer {
  readonly #settledMs = new Map<string, number>();
  readonly #now: () => number;

  /** `now` is a monotonic clock in ms (default performance.now). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Ms until `key` may be written again; 0 when it may be now. */
  waitMs(key: string): number {
    const at = this.#settledMs.get(key);
    return at === undefined ? 0 : Math.max(0, at + MIN_REWRITE_INTERVAL_MS - this.#now());
  }

  /** Runs `write` if `key` may be written now; returns false, writing nothing, when it may not yet. */
  async ifDue(key: string, write: () => Promise<void>): Promise<boolean> {
    if (this.waitMs(key) > 0) return false;
    await this.#run(key, write);
    return true;
  }

  /** Waits (at most the interval) until `key` may be written, then runs `write`. */
  async whenDue(key: string, write: () => Promise<void>): Promise<void> {
    // A timer may fire a fraction of a millisecond early: look again until the interval has passed.
    for (let wait = this.waitMs(key); wait > 0; wait = this.waitMs(key)) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
    await this.#run(key, write);
  }

  async #run(key: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } finally {
      this.#settledMs.set(key, this.#now());
    }
  }
}
