// Refuses a write to an object name that was written less than a second ago, as Cloud Storage throttles it, on every backend.
//
// Cloud Storage allows about one write per second to one object name and answers faster rewrites
// with 429 — sometimes, under load, so a regression would only show in production. This guard sits
// in front of any backend (openStorage() always adds it) and refuses such a write every time, with
// the retryable HG_STORAGE_RATE_LIMITED, so a test that makes one fails.
//
// What counts as a write is what changes the object: a put, and a create-only write or copy that
// creates it. A create-only write to an object that is still there changes nothing (GCS answers 412,
// or it is our own retried write), so it is let through; deletes are not counted. The guard sees the
// writes of this process only: objects shared between processes (none today: each checker replica
// writes its own state files) must be paced by their design. Times are taken when a write succeeded.
import { HourglassError } from '../errors/catalogue.ts';
import { ForwardingStorage } from './forwarding-storage.ts';
import type { Storage } from './storage.ts';

/** Cloud Storage's limit: at most one write per object name per this many ms. */
export const MIN_REWRITE_INTERVAL_MS = 1000;

export class WriteRateGuard extends ForwardingStorage {
  readonly #now: () => number;
  /** Last successful write per key, oldest first (entries older than the interval are dropped). */
  readonly #lastWriteMs = new Map<string, number>();
  /** The latest refused writes (at most 100), newest last: tests assert there are none. */
  readonly refused: string[] = [];

  /** `now` is a monotonic clock in ms (default performance.now). */
  constructor(inner: Storage, now: () => number = () => performance.now()) {
    super(inner);
    this.#now = now;
  }

  override async put(key: string, data: Uint8Array | string): Promise<void> {
    this.#refuseIfRecent(key, 'put');
    await this.inner.put(key, data);
    this.#wrote(key);
  }

  override async createOnly(key: string, data: Uint8Array | string): Promise<void> {
    await this.#refuseIfRecreated(key, 'createOnly');
    await this.inner.createOnly(key, data);
    this.#wrote(key);
  }

  override async copy(from: string, to: string): Promise<void> {
    await this.#refuseIfRecreated(to, `copy from ${from}`);
    await this.inner.copy(from, to);
    this.#wrote(to);
  }

  /** Ms since `key` was last written by this process, or undefined when longer than the interval. */
  #sinceLastWrite(key: string): number | undefined {
    const now = this.#now();
    for (const [k, at] of this.#lastWriteMs) {
      if (now - at < MIN_REWRITE_INTERVAL_MS) break;
      this.#lastWriteMs.delete(k);
    }
    const at = this.#lastWriteMs.get(key);
    return at === undefined ? undefined : now - at;
  }

  #refuseIfRecent(key: string, op: string): void {
    const since = this.#sinceLastWrite(key);
    if (since === undefined) return;
    const message = `${op} ${key}: written ${Math.round(since)} ms ago; Cloud Storage allows one write per object name per ${MIN_REWRITE_INTERVAL_MS} ms`;
    this.refused.push(message);
    if (this.refused.length > 100) this.refused.shift();
    throw new HourglassError('HG_STORAGE_RATE_LIMITED', message);
  }

  /** A create (or copy) to a name written within the interval is a rewrite only if the object is gone meanwhile. */
  async #refuseIfRecreated(key: string, op: string): Promise<void> {
    if (this.#sinceLastWrite(key) === undefined) return;
    if (await this.inner.stat(key)) return;
    this.#refuseIfRecent(key, op);
  }

  #wrote(key: string): void {
    // Re-inserted so the map stays ordered by time.
    this.#lastWriteMs.delete(key);
    this.#lastWriteMs.set(key, this.#now());
  }
}
