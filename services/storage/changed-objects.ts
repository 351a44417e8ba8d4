// Which listed objects changed since they were last read: a reader that polls a few state files every round reads
// only the ones written again (by their version: Cloud Storage's generation), not all of them every time.
import type { ObjectInfo, Storage } from './storage.ts';

export class ChangedObjects {
  /** Key → the version last read. */
  readonly #read = new Map<string, string>();

  /** Those of `listed` not read at their listed version; keys no longer listed are forgotten. */
  changed(listed: readonly ObjectInfo[]): ObjectInfo[] {
    const keys = new Set(listed.map((o) => o.key));
    for (const key of [...this.#read.keys()]) if (!keys.has(key)) this.#read.delete(key);
    return listed.filter((o) => o.version === '' || this.#read.get(o.key) !== o.version);
  }

  /** The version `key` was last read at, if it was read. */
  versionRead(key: string): string | undefined {
    return this.#read.get(key);
  }

  /** `o` was read (and used) at its listed version. (A read that returned a newer one is read again next time: safe.) */
  noteRead(o: ObjectInfo): void {
    if (o.version !== '') this.#read.set(o.key, o.version);
  }
}

/**
 * Deletes `o` only if it is still at the version listed (a stat just before; a write in between is a race of
 * milliseconds, which a generation-matched delete would close). True when it was deleted.
 */
export async function deleteIfUnchanged(storage: Storage, o: ObjectInfo): Promise<boolean> {
  if ((await storage.stat(o.key))?.version !== o.version) return false;
  await storage.delete(o.key);
  return true;
}
