// Which listed objects changed since they were last read: a reader that polls a few state files every round reads
// only the ones written again (by their version: Cloud Storage's generation), not all of them every time.
import type { ObjectInfo } from './storage.ts';

export class ChangedObjects {
  /** Key → the version last read. */
  readonly #read = new Map<string, string>();

  /** Those of `listed` not read at their listed version; keys no longer listed are forgotten. */
  changed(listed: readonly ObjectInfo[]): ObjectInfo[] {
    const keys = new Set(listed.map((o) => o.key));
    for (const key of [...this.#read.keys()]) if (!keys.has(key)) this.#read.delete(key);
    return listed.filter((o) => o.version === '' || this.#read.get(o.key) !== o.version);
  }

  /** `o` was read (and used) at its listed version. (A read that returned a newer one is read again next time: safe.) */
  noteRead(o: ObjectInfo): void {
    if (o.version !== '') this.#read.set(o.key, o.version);
  }
}
