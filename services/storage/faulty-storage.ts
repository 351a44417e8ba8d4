// Fault injection for chaos runs: a storage whose writes fail at a given rate, before the write lands or after it (the write is durable but the caller is told it failed).
//
// Off unless HOURGLASS_FAULTS_STORAGE_FAIL_RATE is set (0 < rate ≤ 1; services/config/fault-settings.ts). HOURGLASS_FAULTS_STORAGE_FAIL_MODE is
// "before", "after" or "mixed" (the default: each failure picks one). HOURGLASS_FAULTS_STORAGE_SEED (an
// integer) makes the draws replay exactly; without it they are unseeded. A failure after the write is the
// hard case for callers, as a request whose response was lost: a create-only write that landed and
// reported an error succeeds when retried with the same bytes (storage.ts), and a caller that retries
// with other bytes meets HG_STORAGE_EXISTS. Reads never fail here (a failed read is a failed round).
import { HourglassError } from '../errors/catalogue.ts';
import { ForwardingStorage } from './forwarding-storage.ts';
import { seededRandom } from './seeded-random.ts';
import type { Storage } from './storage.ts';

export type FaultMode = 'before' | 'after' | 'mixed';

export interface FaultOptions {
  readonly rate: number;
  readonly mode: FaultMode;
  /** Uniform [0, 1); default Math.random (tests pass a seeded one). */
  readonly random?: () => number;
}

/** The fault settings of a service's configuration (services/config/fault-settings.ts). */
export interface FaultSettings {
  readonly faultStorageFailRate: number | undefined;
  readonly faultStorageFailMode: FaultMode;
  readonly faultStorageSeed: number | undefined;
}

/** The fault options the configuration asks for, or undefined when fault injection is off. */
export function faultOptionsFrom(s: FaultSettings): FaultOptions | undefined {
  if (!s.faultStorageFailRate) return undefined;
  const base = { rate: s.faultStorageFailRate, mode: s.faultStorageFailMode };
  return s.faultStorageSeed === undefined ? base : { ...base, random: seededRandom(s.faultStorageSeed) };
}

export class FaultyStorage extends ForwardingStorage {
  readonly #o: FaultOptions;
  readonly #random: () => number;
  /** Failures injected so far, by mode. */
  readonly injected = { before: 0, after: 0 };

  constructor(inner: Storage, options: FaultOptions) {
    super(inner);
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  override createOnly(key: string, data: Uint8Array | string): Promise<void> {
    return this.#write(`createOnly ${key}`, () => this.inner.createOnly(key, data));
  }

  override put(key: string, data: Uint8Array | string): Promise<void> {
    return this.#write(`put ${key}`, () => this.inner.put(key, data));
  }

  override copy(from: string, to: string): Promise<void> {
    return this.#write(`copy ${from} → ${to}`, () => this.inner.copy(from, to));
  }

  override delete(key: string): Promise<void> {
    return this.#write(`delete ${key}`, () => this.inner.delete(key));
  }

  async #write(what: string, op: () => Promise<void>): Promise<void> {
    if (this.#random() >= this.#o.rate) return op();
    const after = this.#o.mode === 'after' || (this.#o.mode === 'mixed' && this.#random() < 0.5);
    if (after) {
      await op();
      this.injected.after++;
    } else {
      this.injected.before++;
    }
    throw new HourglassError('HG_STORAGE_UNAVAILABLE', `injected storage fault (${after ? 'after the write landed' : 'before the write'}): ${what}`, { retryable: true });
  }
}
