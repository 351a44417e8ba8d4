// What the checker knows of every publisher, from heartbeats; shared between checker replicas through the bucket.
//
// Each checker writes its own snapshot to checker/heartbeats/<checker>.json and reads everyone's:
// heartbeats are cumulative, so merging keeps the latest per publisher and loses nothing when a
// replica dies or when a subscription hands heartbeats to different replicas.
//
// A snapshot also says how far the control topic has been read: the newest Pub/Sub publish time of any
// control message (heartbeats, and the probes checkers publish every round) that this replica received or
// read in another replica's snapshot. The table's `controlReadToMs` is the least of that over the replicas
// saving now. So before any replica counts the topic as read to T, every live replica has saved a snapshot
// after it learned of T, holding every heartbeat it had been handed by then.
import { ChangedObjects, deleteIfUnchanged } from '../storage/changed-objects.ts';
import type { ObjectInfo, Storage } from '../storage/storage.ts';
import type { Heartbeat } from '../wire/heartbeat.ts';
import type { PublisherView } from './close-rule.ts';

const PREFIX = 'checker/heartbeats/';

/** Where replica `checkerId` saves its snapshot (rewritten at most once a second: checker.ts paces it). */
export const heartbeatSnapshotKey = (checkerId: string) => `${PREFIX}${checkerId}.json`;

/** A replica whose snapshot is older than this is not reading the topic any more (it stopped or died); its types move to the others (type-owners.ts). */
export const SNAPSHOT_FRESH_MS = 5000;

interface Snapshot {
  /** When the replica saved it (its clock, ms). */
  readonly savedMs: number;
  /** Newest publish time (ms) of a control message it had received, or read in another snapshot, when it saved. */
  readonly controlMs: number | null;
  /** Set by a replica that stopped cleanly: it reads nothing more. */
  readonly stopped?: boolean;
  readonly publishers: PublisherView[];
}

export class HeartbeatTable {
  readonly #views = new Map<string, PublisherView>();
  /** Newest publish time of a control message this replica received, or read in a replica's snapshot. */
  #controlMs: number | undefined;
  /** Per replica snapshot read last: when saved, and how far it had read. */
  readonly #replicas = new Map<string, { savedMs: number; controlMs: number | undefined; stopped: boolean }>();
  /** Snapshots already merged, at their version. */
  readonly #snapshots = new ChangedObjects();
  /** The snapshots as last listed. */
  #listed: ObjectInfo[] = [];
  /** This replica's own snapshot, once saved: what it holds is in memory already, so it is not read back. */
  #ownKey: string | undefined;

  /** Notes that a control message (heartbeat, probe, or malformed) published at `publishMs` was received. */
  noteControl(publishMs: number): void {
    if (this.#controlMs === undefined || publishMs > this.#controlMs) this.#controlMs = publishMs;
  }

  /**
   * How far every replica reading the control topic now has read it (ms, Pub/Sub publish time): the least of
   * their snapshots saved within the last few seconds. Undefined when no replica is reading.
   */
  controlReadToMs(nowMs: number): number | undefined {
    let least: number | undefined;
    for (const r of this.#replicas.values()) {
      if (r.stopped || nowMs - r.savedMs > SNAPSHOT_FRESH_MS) continue;
      if (r.controlMs === undefined) return undefined;
      least = Math.min(least ?? r.controlMs, r.controlMs);
    }
    return least;
  }

  /**
   * The replicas reading the control topic now (their ids): a snapshot saved within the last few seconds
   * and not marked stopped. A replica that died drops out once its snapshot is that old.
   */
  liveReplicas(nowMs: number): string[] {
    const live: string[] = [];
    for (const [key, r] of this.#replicas) if (!r.stopped && nowMs - r.savedMs <= SNAPSHOT_FRESH_MS) live.push(key.slice(PREFIX.length, -'.json'.length));
    return live;
  }

  /** Records a heartbeat received at Pub/Sub publish time `publishMs`; keeps the latest per publisher. */
  observe(hb: Heartbeat, publishMs: number): void {
    this.#merge({
      id: hb.publisher,
      startedUs: hb.startedUs,
      heartbeat: { timeUs: hb.timeUs, final: hb.final, types: hb.types },
      lastSeenMs: publishMs,
    });
  }

  get(id: string): PublisherView | undefined {
    return this.#views.get(id);
  }

  views(): ReadonlyMap<string, PublisherView> {
    return this.#views;
  }

  /** Forgets publishers silent for longer than `retentionMs` (their windows are long closed). */
  prune(nowMs: number, retentionMs: number): void {
    for (const [id, v] of this.#views) if (nowMs - v.lastSeenMs > retentionMs) this.#views.delete(id);
  }

  /** Saves this replica's snapshot; `stopped` marks the last one of a replica that stops cleanly. */
  async save(storage: Storage, checkerId: string, nowMs: number, stopped = false): Promise<void> {
    const controlMs = this.#controlMs;
    const snapshot: Snapshot = { savedMs: nowMs, controlMs: controlMs ?? null, ...(stopped ? { stopped } : {}), publishers: [...this.#views.values()] };
    const key = heartbeatSnapshotKey(checkerId);
    await storage.put(key, JSON.stringify(snapshot));
    // As reading it back would record it.
    this.#ownKey = key;
    this.#replicas.set(key, { savedMs: nowMs, controlMs, stopped });
  }

  /** Merges every replica's snapshot into this table; one read since its last read is not read again. */
  async loadAll(storage: Storage): Promise<void> {
    this.#listed = await storage.list(PREFIX);
    for (const o of this.#snapshots.changed(this.#listed)) {
      if (o.key === this.#ownKey) continue;
      try {
        const parsed = JSON.parse((await storage.get(o.key)).toString('utf8')) as Snapshot | PublisherView[];
        // A snapshot from before the control watermark was a bare array: its heartbeats still count.
        const snapshot = Array.isArray(parsed) ? undefined : parsed;
        for (const v of snapshot ? snapshot.publishers : (parsed as PublisherView[])) this.#merge(v);
        if (snapshot) {
          this.#replicas.set(o.key, { savedMs: snapshot.savedMs, controlMs: snapshot.controlMs ?? undefined, stopped: snapshot.stopped ?? false });
          if (snapshot.controlMs !== null) this.noteControl(snapshot.controlMs);
        }
        this.#snapshots.noteRead(o);
      } catch {
        // A snapshot replaced or removed under us: the next round reads it again.
      }
    }
  }

  /**
   * Deletes the snapshots replicas gone for good left behind (every restart on Cloud Run is a new replica id): those not
   * written for `olderThanMs` by the wall clock, at least the publisher retention, so every publisher in them is one this
   * table forgets anyway. Only a snapshot merged at the version it still has (a stat just before) goes. Returns the keys deleted.
   */
  async sweepGone(storage: Storage, checkerId: string, o: { nowMs: number; olderThanMs: number }): Promise<string[]> {
    const deleted: string[] = [];
    for (const f of this.#listed) {
      if (f.key === heartbeatSnapshotKey(checkerId) || o.nowMs - f.updatedMs < o.olderThanMs || this.#snapshots.versionRead(f.key) !== f.version) continue;
      if (!(await deleteIfUnchanged(storage, f))) continue;
      this.#replicas.delete(f.key);
      deleted.push(f.key);
    }
    this.#listed = this.#listed.filter((f) => !deleted.includes(f.key));
    return deleted;
  }

  #merge(v: PublisherView): void {
    const known = this.#views.get(v.id);
    if (!known) {
      this.#views.set(v.id, v);
      return;
    }
    const newer = (v.heartbeat?.timeUs ?? -1) > (known.heartbeat?.timeUs ?? -1) || (v.heartbeat?.final && !known.heartbeat?.final);
    this.#views.set(v.id, {
      id: v.id,
      startedUs: known.startedUs ?? v.startedUs,
      heartbeat: newer ? v.heartbeat : known.heartbeat,
      lastSeenMs: Math.max(known.lastSeenMs, v.lastSeenMs),
    });
  }
}
