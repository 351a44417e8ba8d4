// How far each type's windows are all closed: every ended window after this mark is considered each round, staged or empty, so an hour with no events closes too.
//
// Kept in the bucket at checker/watermarks/<type>-<length>s.json. Any replica may advance it; a stale
// (lower) value only costs re-reading the manifests of windows already closed, never a missed window.
import { hasCode } from '../errors/catalogue.ts';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';

const key = (type: string, windowS: number) => `${layout.checker}watermarks/${type}-${windowS}s.json`;

export class CloseWatermarks {
  readonly #storage: Storage;
  readonly #windowS: number;
  readonly #byType = new Map<string, number>();

  constructor(storage: Storage, windowS: number) {
    this.#storage = storage;
    this.#windowS = windowS;
  }

  /** The newest window index up to which every window of `type` is closed; `initial` when none was ever saved. */
  async get(type: string, initial: number): Promise<number> {
    const known = this.#byType.get(type);
    if (known !== undefined) return known;
    let mark = initial;
    try {
      const saved = JSON.parse((await this.#storage.get(key(type, this.#windowS))).toString('utf8')) as { closedThrough?: unknown };
      if (typeof saved.closedThrough === 'number' && Number.isSafeInteger(saved.closedThrough)) mark = saved.closedThrough;
    } catch (err) {
      if (!hasCode(err, 'HG_STORAGE_NOT_FOUND') && !(err instanceof SyntaxError)) throw err;
    }
    this.#byType.set(type, mark);
    return mark;
  }

  /** Moves the mark forward (never back) and saves it. */
  async advance(type: string, closedThrough: number): Promise<void> {
    if (closedThrough <= (this.#byType.get(type) ?? -Infinity)) return;
    this.#byType.set(type, closedThrough);
    await this.#storage.put(key(type, this.#windowS), JSON.stringify({ type, windowS: this.#windowS, closedThrough }));
  }
}
