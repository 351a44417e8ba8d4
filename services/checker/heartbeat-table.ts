// What the checker knows of every publisher, from heartbeats; shared between checker replicas through the bucket.
//
// Each checker writes its own snapshot to checker/heartbeats/<checker>.json and reads everyone's:
// heartbeats are cumulative, so merging keeps the latest per publisher and loses nothing when a
// replica dies or when a subscription hands heartbeats to different replicas.
import type { Storage } from '../storage/storage.ts';
import type { Heartbeat } from '../wire/heartbeat.ts';
import type { PublisherView } from './close-rule.ts';

const PREFIX = 'checker/heartbeats/';

export class HeartbeatTable {
  readonly #views = new Map<string, PublisherView>();

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

  async save(storage: Storage, checkerId: string): Promise<void> {
    await storage.put(`${PREFIX}${checkerId}.json`, JSON.stringify([...this.#views.values()]));
  }

  /** Merges every replica's snapshot into this table. */
  async loadAll(storage: Storage): Promise<void> {
    for (const o of await storage.list(PREFIX)) {
      try {
        for (const v of JSON.parse((await storage.get(o.key)).toString('utf8')) as PublisherView[]) this.#merge(v);
      } catch {
        // A snapshot replaced or removed under us: the next round reads it again.
      }
    }
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
