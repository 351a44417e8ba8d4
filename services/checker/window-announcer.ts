// Announces each closed window on the closed-windows topic, at least once: publish, then a create-only marker that says it was done.
//
// A window is announced after its close is finished (_SUCCESS written), before its staging is removed.
// A checker that crashes between the publish and the marker leaves the window to be announced again by
// whichever replica visits it next (a duplicate, which the event's dedupKey makes harmless); one that
// crashes before the publish leaves its staging in place, so the window is visited and announced later.
// A publish that fails (Pub/Sub down, the topic missing, a grant missing) must not hold the close's
// cleanup back: the window is recorded as owed (checker/announce-pending/…, create-only) and the close
// goes on; every replica retries the owed windows (retryOwed) until each is announced.
import { createHash } from 'node:crypto';
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { hasCode } from '../errors/catalogue.ts';
import { layout, windowId, windowIndexOfId, type WindowRef } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import { WINDOW_CLOSED_FORMAT, windowClosedAttributes, windowClosedDedupKey, type WindowClosedEvent } from '../wire/window-closed-event.ts';
import type { ClosedManifest } from './closed-manifest.ts';
import { readClosedManifest } from './window-closer.ts';

/** Where the marker of an announced window lives (the checker's own state; a lifecycle rule ages them out). */
export const announcedKey = (ref: WindowRef) => `${layout.checker}announced/${ref.type}/${windowId(ref.index, ref.lengthS)}`;
/** Where a window whose announcement failed is recorded as owed, until a replica announces it. */
export const OWED_PREFIX = `${layout.checker}announce-pending/`;
export const owedKey = (ref: WindowRef) => `${OWED_PREFIX}${ref.type}/${windowId(ref.index, ref.lengthS)}`;

/** Sends one event; the checker's is a Pub/Sub topic, tests may pass their own. */
export type EventSink = (data: Buffer, attributes: Record<string, string>, orderingKey: string) => Promise<void>;

export class WindowAnnouncer {
  readonly #storage: Storage;
  readonly #send: EventSink;
  /** Windows this replica announced or found announced. */
  readonly #done = new Set<string>();

  constructor(storage: Storage, send: EventSink) {
    this.#storage = storage;
    this.#send = send;
  }

  /**
   * Announces the closed window unless a marker says it was; throws when the publish or the marker fails (the next
   * round tries again). `storedSha256`: given by the replica that has just committed the manifest (the SHA-256 of the
   * bytes it created), which announces without looking for a marker (none can be older than its commit; one
   * written since by a replica that adopted the close means a second announcement, which the dedupKey makes harmless).
   */
  async ensure(ref: WindowRef, manifest: ClosedManifest, storedSha256?: string): Promise<void> {
    const key = announcedKey(ref);
    if (this.#done.has(key)) return;
    if (storedSha256 === undefined && (await this.#storage.stat(key))) {
      this.#done.add(key);
      return;
    }
    const folder = layout.closed(ref);
    // The manifest as stored (create-only: the same bytes for every replica), not as this replica re-serializes it.
    const sha256 = storedSha256 ?? createHash('sha256').update(await this.#storage.get(folder + layout.manifestName)).digest('hex');
    const event = windowClosedEvent(manifest, `${this.#storage.location}/${folder}`, sha256);
    await this.#send(Buffer.from(JSON.stringify(event)), windowClosedAttributes(event), ref.type);
    try {
      await this.#storage.createOnly(key, JSON.stringify({ dedupKey: event.dedupKey, sha256: event.manifest.sha256 }));
    } catch (err) {
      if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err; // another replica announced it too
    }
    this.#done.add(key);
  }

  /**
   * Announces the window, or, when that fails, records it as owed so the caller's cleanup can go on. Returns the
   * failure (to count and log) or undefined; throws only when the window could be neither announced nor recorded.
   */
  async announceOrOwe(ref: WindowRef, manifest: ClosedManifest, storedSha256?: string): Promise<Error | undefined> {
    try {
      await this.ensure(ref, manifest, storedSha256);
      return undefined;
    } catch (err) {
      try {
        await this.#storage.createOnly(owedKey(ref), JSON.stringify({ type: ref.type, windowStart: manifest.windowStart, error: (err as Error).message }));
      } catch (recordErr) {
        if (!hasCode(recordErr, 'HG_STORAGE_EXISTS')) throw err;
      }
      return err as Error;
    }
  }

  /** Announces every owed window (any replica's) and clears its record; returns what failed (the next call retries it). */
  async retryOwed(windowS: number): Promise<Error[]> {
    const failures: Error[] = [];
    for (const o of await this.#storage.list(OWED_PREFIX)) {
      const [type = '', id = ''] = o.key.slice(OWED_PREFIX.length).split('/');
      try {
        const ref: WindowRef = { type, index: windowIndexOfId(id, windowS), lengthS: windowS };
        const manifest = await readClosedManifest(this.#storage, ref);
        if (!manifest) throw new Error(`${o.key}: owed, but ${layout.closed(ref)} has no manifest`);
        await this.ensure(ref, manifest);
        await this.#storage.delete(o.key);
      } catch (err) {
        failures.push(new Error(`announcing owed window ${type} ${id}: ${(err as Error).message}`, { cause: err }));
      }
    }
    return failures;
  }
}

export function windowClosedEvent(m: ClosedManifest, folder: string, sha256: string): WindowClosedEvent {
  return {
    format: WINDOW_CLOSED_FORMAT,
    dedupKey: windowClosedDedupKey(m.type, m.windowStart),
    type: m.type,
    windowStart: m.windowStart,
    windowEnd: m.windowEnd,
    windowS: m.windowS,
    status: m.status,
    reason: m.reason,
    events: m.events,
    lostEvents: m.lostEvents,
    abandonedEvents: m.abandonedEvents,
    deadLetteredEvents: m.deadLetteredEvents ?? 0,
    schemaVersion: m.schemaVersion,
    closeDelayMs: Math.max(0, Math.round(m.closeDelayMs)),
    closedAt: m.closedAt,
    folder,
    manifest: { uri: `${folder}${layout.manifestName}`, sha256 },
  };
}

const PUBLISH_DEADLINE_MS = 10_000;

/** The checker's sink: the closed-windows topic, ordered by type; a failed publish resumes the key so the retry can go. */
export function topicSink(pubsub: PubSub, topicName: string): { send: EventSink; close: () => Promise<void> } {
  const topic: Topic = pubsub.topic(topicName, { messageOrdering: true, batching: { maxMessages: 100, maxMilliseconds: 10 } });
  return {
    send: async (data, attributes, orderingKey) => {
      const publishing = topic.publishMessage({ data, attributes, orderingKey });
      // A failed publish pauses its ordering key: resume it then, and only then. (Resuming on our own deadline,
      // while the message is still in flight, would let the next one go out on a second queue, out of order.)
      publishing.catch(() => topic.resumePublishing(orderingKey));
      // Bounded: a publish Pub/Sub does not answer must not hold the type's round (the client's own deadline is 60 s).
      // One that lands after giving up is a duplicate, which the event's dedupKey makes harmless.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          publishing,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`publishing to ${topicName}: no answer in ${PUBLISH_DEADLINE_MS} ms`)), PUBLISH_DEADLINE_MS))),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => topic.flush(),
  };
}
