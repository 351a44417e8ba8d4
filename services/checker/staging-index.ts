// Lists a type's staging area and keeps the parsed manifests (immutable once written), grouped by window.
import type { Storage } from '../storage/storage.ts';
import { parseStagingManifest, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../storage/staging-manifest.ts';
import { layout } from '../storage/layout.ts';

export interface IndexedManifest {
  readonly key: string;
  readonly manifest: StagingManifest;
}

export class StagingIndex {
  readonly #storage: Storage;
  readonly #cache = new Map<string, StagingManifest>();
  /** Manifests that could not be parsed, with the reason (reported, left in place). */
  readonly unreadable = new Map<string, string>();

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  /** Every staged manifest of `type`, grouped by window, sorted by key within a window. */
  async windows(type: string): Promise<Map<number, IndexedManifest[]>> {
    const byWindow = new Map<number, IndexedManifest[]>();
    const listed = await this.#storage.list(layout.stagingType(type));
    const present = new Set<string>();
    for (const o of listed) {
      if (!o.key.endsWith(STAGING_MANIFEST_SUFFIX)) continue;
      present.add(o.key);
      let manifest = this.#cache.get(o.key);
      if (!manifest) {
        try {
          manifest = parseStagingManifest(o.key, await this.#storage.get(o.key));
          this.#cache.set(o.key, manifest);
        } catch (err) {
          this.unreadable.set(o.key, (err as Error).message);
          continue;
        }
      }
      let list = byWindow.get(manifest.window);
      if (!list) byWindow.set(manifest.window, (list = []));
      list.push({ key: o.key, manifest });
    }
    for (const key of this.#cache.keys()) if (key.startsWith(layout.stagingType(type)) && !present.has(key)) this.#cache.delete(key);
    return byWindow;
  }
}
