// Lists a type's staging area and keeps the parsed manifests and segments (immutable once written), grouped by window.
import { DEAD_LETTER_NOTE_SUFFIX, parseDeadLetterNote, type DeadLetterNote } from '../storage/dead-letter-note.ts';
import type { ObjectInfo, Storage } from '../storage/storage.ts';
import { manifestKeyOf, parseStagingManifest, STAGING_FILE_SUFFIX, STAGING_MANIFEST_SUFFIX, type StagingManifest } from '../storage/staging-manifest.ts';
import { layout, windowIndexOfId } from '../storage/layout.ts';
import { isSegmentKey, parseSegment, type Segment } from './segments.ts';

export interface IndexedManifest {
  readonly key: string;
  readonly manifest: StagingManifest;
}

export interface IndexedNote {
  readonly key: string;
  readonly note: DeadLetterNote;
}

export interface WindowStaging {
  /** Staged files' manifests, sorted by key. */
  readonly staged: IndexedManifest[];
  /** Workers' notes of seqs of this window they dead-lettered, sorted by key. */
  readonly deadLetterNotes: IndexedNote[];
  /** Committed segments, by number. */
  readonly segments: Segment[];
  /** Every key under the window's staging folder (to clean up after close). */
  readonly keys: string[];
  /** Staged files no manifest names (yet): debris of a worker that died between the file and its manifest, or a write in progress. */
  readonly orphans: ObjectInfo[];
}

/** What has been parsed of one type's staging, by key (each type's own: dropping what is gone costs that type's keys, not every type's). */
interface ParsedCache {
  readonly manifests: Map<string, StagingManifest>;
  readonly segments: Map<string, Segment>;
  readonly notes: Map<string, DeadLetterNote>;
}

export class StagingIndex {
  readonly #storage: Storage;
  readonly #windowS: number;
  readonly #parsed = new Map<string, ParsedCache>();
  /** Manifests that could not be parsed, with the reason (reported, left in place). */
  readonly unreadable = new Map<string, string>();

  constructor(storage: Storage, windowS: number) {
    this.#storage = storage;
    this.#windowS = windowS;
  }

  /** Everything staged for `type`, by window. */
  async windows(type: string): Promise<Map<number, WindowStaging>> {
    const prefix = layout.stagingType(type);
    let parsed = this.#parsed.get(type);
    if (!parsed) this.#parsed.set(type, (parsed = { manifests: new Map(), segments: new Map(), notes: new Map() }));
    const out = new Map<number, WindowStaging>();
    const present = new Set<string>();
    for (const o of await this.#storage.list(prefix)) {
      present.add(o.key);
      const [windowIdPart = '', ...below] = o.key.slice(prefix.length).split('/');
      let index: number;
      try {
        index = windowIndexOfId(windowIdPart, this.#windowS);
      } catch {
        continue; // not a window folder
      }
      let w = out.get(index);
      if (!w) out.set(index, (w = emptyWindowStaging()));
      w.keys.push(o.key);
      // A worker's staged file sits right under the window folder (segments and closing parts are deeper).
      if (below.length === 1 && o.key.endsWith(STAGING_FILE_SUFFIX)) w.orphans.push(o);
      if (o.key.endsWith(STAGING_MANIFEST_SUFFIX)) {
        const manifest = await this.#read(o.key, parsed.manifests, parseStagingManifest);
        if (manifest) w.staged.push({ key: o.key, manifest });
      } else if (below.length === 1 && o.key.endsWith(DEAD_LETTER_NOTE_SUFFIX)) {
        const note = await this.#read(o.key, parsed.notes, parseDeadLetterNote);
        if (note) w.deadLetterNotes.push({ key: o.key, note });
      } else if (isSegmentKey(o.key)) {
        const segment = await this.#read(o.key, parsed.segments, parseSegment);
        if (segment) w.segments.push(segment);
      }
    }
    for (const w of out.values()) {
      w.segments.sort((a, b) => a.n - b.n);
      const keys = new Set(w.keys);
      const named = new Set(w.staged.map((m) => m.manifest.file));
      // Keep only the files no manifest names (a listed manifest, or the manifest's own key).
      const orphans = w.orphans.filter((o) => !named.has(o.key) && !keys.has(manifestKeyOf(o.key)));
      w.orphans.splice(0, w.orphans.length, ...orphans);
    }
    for (const cache of [parsed.manifests, parsed.segments, parsed.notes] as Array<Map<string, unknown>>) {
      for (const key of cache.keys()) if (!present.has(key)) cache.delete(key);
    }
    return out;
  }

  async #read<T>(key: string, cache: Map<string, T>, parse: (key: string, bytes: Buffer) => T): Promise<T | undefined> {
    const cached = cache.get(key);
    if (cached) return cached;
    try {
      const value = parse(key, await this.#storage.get(key));
      cache.set(key, value);
      return value;
    } catch (err) {
      this.unreadable.set(key, (err as Error).message);
      return undefined;
    }
  }
}

/** A window with nothing staged. */
export function emptyWindowStaging(): WindowStaging {
  return { staged: [], deadLetterNotes: [], segments: [], keys: [], orphans: [] };
}
