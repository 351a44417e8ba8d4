// A type's staging area, grouped by window: what a listing shows, plus what staged notices announced since (when
// the checker has them), with the parsed manifests and segments kept (immutable once written).
//
// Listing every owned type every round is what made a round cost what exists: with notices, a type is listed when it
// is gained, when the checker itself changed its staging, when a caller needs the truth (a close is decided only on a
// listing: a notice is a hint and may be lost), and every `relistMs` to recover what a lost notice hid.
import { DEAD_LETTER_NOTE_SUFFIX, parseDeadLetterNote, type DeadLetterNote } from '../storage/dead-letter-note.ts';
import type { ObjectInfo, Storage } from '../storage/storage.ts';
import { manifestKeyOf, parseStagingManifest, STAGING_FILE_SUFFIX, STAGING_MANIFEST_SUFFIX, stagingFileKeyOf, type StagingManifest } from '../storage/staging-manifest.ts';
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

/** The version of an object known from a notice only (not listed yet). */
const NOTICED = 'noticed';

/** What is known of one type's staging objects: a listing, and the notices since. */
interface TypeView {
  readonly objects: Map<string, ObjectInfo>;
  /** When it was listed (the caller's clock, ms). */
  readonly listedAtMs: number;
  /** The notice epoch it was listed in: a listing older than the current subscription may miss notices. */
  readonly epoch: number;
  /** The checker changed this staging itself (a close, a segment): list before using it again. */
  stale: boolean;
}

export interface WindowsQuery {
  /** The caller's clock (ms), for the relist interval. */
  readonly nowMs: number;
  /** List, whatever the notices say. */
  readonly mustList?: boolean;
  /** List when the view holds a window this picks (one a close may be decided for: that is decided only on a listing). */
  readonly listIfAny?: (window: number) => boolean;
}

export class StagingIndex {
  readonly #storage: Storage;
  readonly #windowS: number;
  readonly #relistMs: number;
  readonly #parsed = new Map<string, ParsedCache>();
  readonly #views = new Map<string, TypeView>();
  /** Per type being listed: keys noticed meanwhile (the listing may have been answered before they were written). */
  readonly #noticedWhileListing = new Map<string, string[]>();
  /** Increases each time a notice subscription starts delivering; 0: no notices, every call lists. */
  #epoch = 0;
  #trusted = false;
  /** Manifests that could not be parsed, with the reason (reported, left in place). */
  readonly unreadable = new Map<string, string>();
  /** Calls of windows() answered by a listing, and without one (for tests and the benchmarks). */
  listings = 0;
  fromNotices = 0;

  /** `relistMs`: with notices, the longest a type goes unlisted (what a lost notice can hide, at most). */
  constructor(storage: Storage, windowS: number, relistMs = 30_000) {
    this.#storage = storage;
    this.#windowS = windowS;
    this.#relistMs = relistMs;
  }

  /** Notices are delivered from now on: views listed from now on may be kept up to date by them. */
  trustNotices(): void {
    this.#epoch++;
    this.#trusted = true;
  }

  /** Notices may have been missed (the subscription failed): every call lists until trustNotices() again. */
  distrustNotices(): void {
    this.#trusted = false;
  }

  /** A staged notice: the object is added to its type's view (the staged file too, for a manifest). */
  noticed(type: string, key: string, nowMs: number): void {
    this.#noticedWhileListing.get(type)?.push(key);
    const view = this.#views.get(type);
    if (view) addNoticed(view, key, nowMs);
  }

  /** The checker wrote or removed objects of `type`'s staging: the next call lists. */
  changed(type: string): void {
    const view = this.#views.get(type);
    if (view) view.stale = true;
  }

  /** Forgets `type` (gone to another replica); listed again if it comes back. */
  forget(type: string): void {
    this.#views.delete(type);
    this.#parsed.delete(type);
  }

  /** Everything staged for `type`, by window: listed, or as last listed plus the notices since (see the file's top). */
  async windows(type: string, query: WindowsQuery = { nowMs: 0, mustList: true }): Promise<Map<number, WindowStaging>> {
    const prefix = layout.stagingType(type);
    let parsed = this.#parsed.get(type);
    if (!parsed) this.#parsed.set(type, (parsed = { manifests: new Map(), segments: new Map(), notes: new Map() }));
    let view = this.#views.get(type);
    const usable = this.#trusted && !query.mustList && view && !view.stale && view.epoch === this.#epoch && query.nowMs - view.listedAtMs < this.#relistMs;
    if (usable) this.fromNotices++;
    else {
      const epoch = this.#epoch;
      const meanwhile: string[] = [];
      this.#noticedWhileListing.set(type, meanwhile);
      try {
        const listed = await this.#storage.list(prefix);
        this.listings++;
        view = { objects: new Map(listed.map((o) => [o.key, o])), listedAtMs: query.nowMs, epoch, stale: false };
        for (const key of meanwhile) if (!view.objects.has(key)) addNoticed(view, key, query.nowMs);
        this.#views.set(type, view);
      } finally {
        this.#noticedWhileListing.delete(type);
      }
    }
    // A notice can outlive its object (delivered late, after the window closed): a noticed object that cannot be read is dropped.
    for (const o of [...view!.objects.values()]) {
      if (o.version !== NOTICED) continue;
      const read = o.key.endsWith(STAGING_MANIFEST_SUFFIX)
        ? await this.#read(o.key, parsed.manifests, parseStagingManifest, true)
        : o.key.endsWith(DEAD_LETTER_NOTE_SUFFIX)
          ? await this.#read(o.key, parsed.notes, parseDeadLetterNote, true)
          : true;
      if (read === undefined) {
        view!.objects.delete(o.key);
        if (o.key.endsWith(STAGING_MANIFEST_SUFFIX)) view!.objects.delete(stagingFileKeyOf(o.key));
      }
    }
    const out = new Map<number, WindowStaging>();
    const present = new Set<string>();
    for (const o of [...view!.objects.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
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
    if (usable && query.listIfAny && [...out.keys()].some(query.listIfAny)) return this.windows(type, { ...query, mustList: true });
    for (const cache of [parsed.manifests, parsed.segments, parsed.notes] as Array<Map<string, unknown>>) {
      for (const key of cache.keys()) if (!present.has(key)) cache.delete(key);
    }
    return out;
  }

  /** Parsed from the cache or read; a failure is recorded in `unreadable` unless `quiet`. */
  async #read<T>(key: string, cache: Map<string, T>, parse: (key: string, bytes: Buffer) => T, quiet = false): Promise<T | undefined> {
    const cached = cache.get(key);
    if (cached) return cached;
    try {
      const value = parse(key, await this.#storage.get(key));
      cache.set(key, value);
      return value;
    } catch (err) {
      if (!quiet) this.unreadable.set(key, (err as Error).message);
      return undefined;
    }
  }
}

/** Adds a noticed key to a view; a manifest's staged file too (written before it, so it exists). */
function addNoticed(view: TypeView, key: string, nowMs: number): void {
  const info = (k: string): ObjectInfo => ({ key: k, size: 0, updatedMs: nowMs, version: NOTICED });
  if (!view.objects.has(key)) view.objects.set(key, info(key));
  if (key.endsWith(STAGING_MANIFEST_SUFFIX)) {
    const file = stagingFileKeyOf(key);
    if (!view.objects.has(file)) view.objects.set(file, info(file));
  }
}

/** A window with nothing staged. */
export function emptyWindowStaging(): WindowStaging {
  return { staged: [], deadLetterNotes: [], segments: [], keys: [], orphans: [] };
}
