// How far each type's windows are all closed: every ended window after this mark is considered each round, staged or empty, so an hour with no events closes too.
//
// Each replica keeps its own mark at checker/watermarks/<type>-<length>s/<checker>.json and reads
// everyone's: every mark is a true statement (all windows up to it are closed), so the highest one
// read is. One object per replica, rewritten at most once a second, keeps every object within Cloud
// Storage's per-object write limit however many replicas run (one shared object would take a write a
// second from each). A stale (lower) value only costs re-reading the manifests of windows already
// closed, never a missed window. The single file earlier versions wrote is still read.
import { hasCode } from '../errors/catalogue.ts';
import { deleteIfUnchanged } from '../storage/changed-objects.ts';
import { layout } from '../storage/layout.ts';
import type { RewritePacer } from '../storage/rewrite-pacer.ts';
import type { ObjectInfo, Storage } from '../storage/storage.ts';

const name = (type: string, windowS: number) => `${layout.checker}watermarks/${type}-${windowS}s`;

/** The one file every replica wrote before marks were per replica. */
const legacyKey = (type: string, windowS: number) => `${name(type, windowS)}.json`;

/** Where replica `checkerId` saves its mark. */
export const watermarkKey = (type: string, windowS: number, checkerId: string) => `${name(type, windowS)}/${checkerId}.json`;

export class CloseWatermarks {
  readonly #storage: Storage;
  readonly #windowS: number;
  readonly #checkerId: string;
  readonly #pacer: RewritePacer;
  readonly #byType = new Map<string, number>();
  /** What was last saved, per type. */
  readonly #saved = new Map<string, number>();
  /** Per type: the other replicas' marks as read by get(), for sweep(). */
  readonly #others = new Map<string, Array<{ info: ObjectInfo; closedThrough: number }>>();

  constructor(storage: Storage, windowS: number, checkerId: string, pacer: RewritePacer) {
    this.#storage = storage;
    this.#windowS = windowS;
    this.#checkerId = checkerId;
    this.#pacer = pacer;
  }

  /** The newest window index up to which every window of `type` is closed; `initial` when none was ever saved. */
  async get(type: string, initial: number): Promise<number> {
    const known = this.#byType.get(type);
    if (known !== undefined) return known;
    // `initial` only when no replica ever saved a mark: a type handed over from another replica goes on from that
    // replica's mark, not from when this one started (the windows in between would never close).
    let mark: number | undefined;
    const folder = `${name(type, this.#windowS)}/`;
    const others: Array<{ info: ObjectInfo; closedThrough: number }> = [];
    for (const o of await this.#storage.list(name(type, this.#windowS))) {
      if (o.key !== legacyKey(type, this.#windowS) && !o.key.startsWith(folder)) continue;
      try {
        const saved = JSON.parse((await this.#storage.get(o.key)).toString('utf8')) as { closedThrough?: unknown };
        if (typeof saved.closedThrough === 'number' && Number.isSafeInteger(saved.closedThrough)) mark = Math.max(mark ?? saved.closedThrough, saved.closedThrough);
        if (typeof saved.closedThrough === 'number' && o.key !== watermarkKey(type, this.#windowS, this.#checkerId)) others.push({ info: o, closedThrough: saved.closedThrough });
      } catch (err) {
        // Removed since the listing, or not a mark: it says nothing.
        if (!hasCode(err, 'HG_STORAGE_NOT_FOUND') && !(err instanceof SyntaxError)) throw err;
      }
    }
    mark ??= initial;
    this.#byType.set(type, mark);
    this.#others.set(type, others);
    return mark;
  }

  /**
   * Deletes the marks of `type` that replicas gone for good left behind (a new replica id with every process), once this
   * replica's saved mark is at least theirs, so the highest mark stays: those of replicas not live, unwritten for
   * `staleMs` by the wall clock, still at the version read (a stat just before). Returns the keys deleted.
   */
  async sweep(type: string, o: { nowMs: number; staleMs: number; live: ReadonlySet<string> }): Promise<string[]> {
    const saved = this.#saved.get(type);
    if (saved === undefined) return [];
    const deleted: string[] = [];
    for (const { info, closedThrough } of this.#others.get(type) ?? []) {
      const replica = info.key.slice(`${name(type, this.#windowS)}/`.length, -'.json'.length);
      if (closedThrough > saved || o.live.has(replica) || o.nowMs - info.updatedMs < o.staleMs) continue;
      if (await deleteIfUnchanged(this.#storage, info)) deleted.push(info.key);
    }
    this.#others.set(type, (this.#others.get(type) ?? []).filter(({ info }) => !deleted.includes(info.key)));
    return deleted;
  }

  /** Forgets `type`'s mark as known here (this replica no longer closes it): read again from the bucket if it comes back. */
  forget(type: string): void {
    this.#byType.delete(type);
  }

  /** Moves the mark forward (never back); saves it unless this replica saved it less than a second ago (a later round does). */
  async advance(type: string, closedThrough: number): Promise<void> {
    if (closedThrough > (this.#byType.get(type) ?? -Infinity)) this.#byType.set(type, closedThrough);
    const mark = this.#byType.get(type)!;
    if (mark <= (this.#saved.get(type) ?? -Infinity)) return;
    const key = watermarkKey(type, this.#windowS, this.#checkerId);
    await this.#pacer.ifDue(key, async () => {
      await this.#storage.put(key, JSON.stringify({ type, windowS: this.#windowS, closedThrough: mark }));
      this.#saved.set(type, mark);
    });
  }
}
