// Fault injection for chaos runs: a storage whose writes fail at a given rate, before the write lands or after it (the write is durable but the caller is told it failed).
//
// Off unless HOURGLASS_FAULTS_STORAGE_FAIL_RATE is set (0 < rate ≤ 1). HOURGLASS_FAULTS_STORAGE_FAIL_MODE is
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

/** The fault options the environment asks for, or undefined when fault injection is off. */
export function faultOptionsFromEnv(env: NodeJS.ProcessEnv): FaultOptions | undefined {
  const raw = env.HOURGLASS_FAULTS_STORAGE_FAIL_RATE;
  if (raw === undefined || raw === '' || raw === '0') return undefined;
  const rate = Number(raw);
  if (!(rate > 0 && rate <= 1)) throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_FAULTS_STORAGE_FAIL_RATE must be a number in (0, 1], got ${JSON.stringify(raw)}`);
  const mode = (env.HOURGLASS_FAULTS_STORAGE_FAIL_MODE || 'mixed') as FaultMode;
  if (!['before', 'after', 'mixed'].includes(mode)) throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_FAULTS_STORAGE_FAIL_MODE must be before, after or mixed, got ${JSON.stringify(mode)}`);
  const seedRaw = env.HOURGLASS_FAULTS_STORAGE_SEED;
  if (seedRaw === undefined || seedRaw === '') return { rate, mode };
  const seed = Number(seedRaw);
  if (!Number.isSafeInteger(seed)) throw new HourglassError('HG_CONFIG_INVALID', `HOURGLASS_FAULTS_STORAGE_SEED must be an integer, got ${JSON.stringify(seedRaw)}`);
  return { rate, mode, random: seededRandom(seed) };
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
