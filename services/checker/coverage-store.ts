// Seqs already accounted for, per type and publisher, kept in the bucket: delivered (in closed windows or the late area), and dead-lettered.
//
// Each checker writes checker/coverage/<type>/<checker>.json and reads everyone's; coverage only
// grows, so the union of all replicas' files is always right, whoever wrote last. The two kinds are
// kept apart: both close gaps for the close rule, but only delivered seqs make a later copy a
// duplicate (a dead-lettered event that `hourglass-events redrive` puts back must land).
import { mapLimit } from '../concurrency/map-limit.ts';
import { ChangedObjects, deleteIfUnchanged } from '../storage/changed-objects.ts';
import type { ObjectInfo, Storage } from '../storage/storage.ts';
import { runsOf, WindowedRuns, type Run } from './windowed-runs.ts';

const ROOT = 'checker/coverage/';
const prefix = (type: string) => `${ROOT}${type}/`;

/** Where replica `checkerId` saves its coverage of `type` (rewritten at most once a second: checker.ts paces it). */
export const coverageKey = (type: string, checkerId: string) => `${prefix(type)}${checkerId}.json`;

const FORMAT = 'hg-coverage-2';

/** The saved object. Earlier versions saved only the delivered map (publisher → runs), which is still read. */
interface SavedCoverage {
  readonly format: typeof FORMAT;
  readonly delivered: Record<string, Run[]>;
  readonly deadLettered: Record<string, Run[]>;
}

type Kind = 'delivered' | 'deadLettered';

export class CoverageStore {
  readonly #byType: Record<Kind, Map<string, Map<string, WindowedRuns>>> = { delivered: new Map(), deadLettered: new Map() };
  /** Per type: the replicas' files merged so far, at their version. */
  readonly #files = new Map<string, ChangedObjects>();
  /** Per type: the replicas' files as last listed. */
  readonly #listed = new Map<string, ObjectInfo[]>();
  /** Files this store saved: what they hold is in memory already, so they are not read back. */
  readonly #saved = new Set<string>();

  /** Delivered seqs of `type`, by publisher. */
  runs(type: string): Map<string, WindowedRuns> {
    return this.#of('delivered', type);
  }

  /** Dead-lettered seqs of `type` (noted by workers), by publisher. */
  deadLetteredRuns(type: string): Map<string, WindowedRuns> {
    return this.#of('deadLettered', type);
  }

  add(type: string, publisher: string, from: number, to: number, window: number): void {
    runsOf(this.runs(type), publisher).add(from, to, window, window);
  }

  addDeadLettered(type: string, publisher: string, from: number, to: number, window: number): void {
    runsOf(this.deadLetteredRuns(type), publisher).add(from, to, window, window);
  }

  /** Merges every replica's saved coverage of `type`; a file unchanged since its last read is not read again. */
  async load(storage: Storage, type: string): Promise<void> {
    await this.#merge(storage, type, await storage.list(prefix(type)));
  }

  /**
   * load() for several types with one listing of every type's coverage (a page per thousand files, instead of a list
   * request per type every round).
   */
  async loadAll(storage: Storage, types: readonly string[]): Promise<void> {
    if (types.length === 0) return;
    const byType = new Map<string, ObjectInfo[]>(types.map((t) => [t, []]));
    for (const o of await storage.list(ROOT)) {
      const type = o.key.slice(ROOT.length, o.key.indexOf('/', ROOT.length));
      byType.get(type)?.push(o);
    }
    await mapLimit([...byType], 16, ([type, listed]) => this.#merge(storage, type, listed));
  }

  async #merge(storage: Storage, type: string, listed: ObjectInfo[]): Promise<void> {
    let files = this.#files.get(type);
    if (!files) this.#files.set(type, (files = new ChangedObjects()));
    this.#listed.set(type, listed);
    for (const o of files.changed(listed)) {
      if (this.#saved.has(o.key)) continue;
      try {
        const data = JSON.parse((await storage.get(o.key)).toString('utf8')) as SavedCoverage | Record<string, Run[]>;
        const saved: Omit<SavedCoverage, 'format'> = data.format === FORMAT ? (data as SavedCoverage) : { delivered: data as Record<string, Run[]>, deadLettered: {} };
        for (const kind of ['delivered', 'deadLettered'] as const) {
          const m = this.#of(kind, type);
          for (const [publisher, runs] of Object.entries(saved[kind] ?? {})) runsOf(m, publisher).addAll(WindowedRuns.of(runs));
        }
        files.noteRead(o);
      } catch {
        // replaced under us; read again next round
      }
    }
  }

  async save(storage: Storage, type: string, checkerId: string, keep: (publisher: string) => boolean): Promise<void> {
    const pick = (m: Map<string, WindowedRuns>) => {
      const out: Record<string, Run[]> = {};
      for (const [publisher, runs] of m) if (keep(publisher)) out[publisher] = runs.runs;
      return out;
    };
    const saved: SavedCoverage = { format: FORMAT, delivered: pick(this.runs(type)), deadLettered: pick(this.deadLetteredRuns(type)) };
    await storage.put(coverageKey(type, checkerId), JSON.stringify(saved));
    this.#saved.add(coverageKey(type, checkerId));
  }

  /**
   * Deletes the files of `type` that replicas gone for good left behind (every restart on Cloud Run is a new replica id, and
   * each would otherwise be listed every round and read by every new replica, forever). Call right after this replica saved
   * its own file: a file is deleted only if this replica merged it at the version it still has (a stat just before), so
   * its content is in the file just saved; and only if its replica is not live and it was not written for `staleMs`.
   * Returns the keys deleted.
   */
  async sweepMerged(storage: Storage, type: string, checkerId: string, o: { nowMs: number; staleMs: number; live: ReadonlySet<string> }): Promise<string[]> {
    const files = this.#files.get(type);
    const deleted: string[] = [];
    for (const f of this.#listed.get(type) ?? []) {
      const replica = f.key.slice(prefix(type).length, -'.json'.length);
      if (replica === checkerId || o.live.has(replica) || o.nowMs - f.updatedMs < o.staleMs || files?.versionRead(f.key) !== f.version) continue;
      if (await deleteIfUnchanged(storage, f)) deleted.push(f.key); // else written again (or gone) since it was merged
    }
    if (deleted.length > 0) this.#listed.set(type, (this.#listed.get(type) ?? []).filter((f) => !deleted.includes(f.key)));
    return deleted;
  }

  #of(kind: Kind, type: string): Map<string, WindowedRuns> {
    let m = this.#byType[kind].get(type);
    if (!m) this.#byType[kind].set(type, (m = new Map()));
    return m;
  }
}
