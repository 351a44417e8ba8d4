// The suite's subscriber to the closed-windows topic: after the run, every closed window of the bucket must have been announced
// (at least once; copies identical), and every announcement must name a closed window whose stored manifest has its SHA-256.
import { createHash } from 'node:crypto';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import type { Storage } from '../services/storage/storage.ts';
import { layout } from '../services/storage/layout.ts';
import type { TopicNames } from '../services/wire/topics.ts';
import { parseWindowClosedEvent } from '../services/wire/window-closed-event.ts';

export interface AnnouncementVerdict {
  /** Closed windows in the bucket, and distinct windows announced. */
  readonly windowsClosed: number;
  readonly windowsAnnounced: number;
  /** Events received; events beyond one per window (racing or retrying checkers: harmless, de-duplicated on dedupKey). */
  readonly events: number;
  readonly duplicates: number;
  /** Closed windows with no event, and events that do not match what the bucket holds (each with why). */
  readonly missing: readonly string[];
  readonly mismatched: readonly string[];
  /** Errors the witness's own subscription reported. */
  readonly subscriptionErrors: readonly string[];
}

export class AnnouncementWitness {
  readonly #subscription: Subscription;
  /** dedupKey → the distinct message bodies received for it. */
  readonly #bodies = new Map<string, Set<string>>();
  /** Events that did not parse (each fails the verdict). */
  readonly #unparsable: string[] = [];
  readonly #subscriptionErrors: string[] = [];
  #events = 0;

  private constructor(subscription: Subscription) {
    this.#subscription = subscription;
    subscription.on('message', (m: Message) => {
      m.ack();
      this.#events++;
      const body = m.data.toString('utf8');
      try {
        const key = parseWindowClosedEvent(body).dedupKey;
        let set = this.#bodies.get(key);
        if (!set) this.#bodies.set(key, (set = new Set()));
        set.add(body);
      } catch (err) {
        this.#unparsable.push((err as Error).message);
      }
    });
    // Reported, not failing by itself: an error that cost an event shows as a missing window.
    subscription.on('error', (err: Error) => this.#subscriptionErrors.push(err.message));
  }

  /** Subscribes before any checker starts: the emulator keeps for a subscription only what is published after it exists. */
  static async open(pubsub: PubSub, names: TopicNames): Promise<AnnouncementWitness> {
    const name = `${names.closedWindowsTopic}-chaos-witness`;
    const [exists] = await pubsub.subscription(name).exists();
    if (!exists) await pubsub.topic(names.closedWindowsTopic).createSubscription(name, { ackDeadlineSeconds: 60 });
    return new AnnouncementWitness(pubsub.subscription(name, { flowControl: { maxMessages: 1000 } }));
  }

  /** Stops receiving without a verdict (the run failed before it). */
  async close(): Promise<void> {
    await this.#subscription.close();
  }

  /**
   * Stops receiving (after the checkers stopped), then checks against the bucket: windows of the run ([fromUs, toUs),
   * whose closes the settled run has seen through) must each be announced; any event must match its manifest.
   */
  async verdict(storage: Storage, types: readonly string[], fromUs: number, toUs: number, waitMs = 30_000): Promise<AnnouncementVerdict> {
    // The checkers' last events may still be on their way through the emulator: wait for them, not a fixed time.
    const until = Date.now() + waitMs;
    let v = await this.#check(storage, types, fromUs, toUs);
    while (v.missing.length > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1000));
      v = await this.#check(storage, types, fromUs, toUs);
    }
    await this.#subscription.close();
    return v;
  }

  async #check(storage: Storage, types: readonly string[], fromUs: number, toUs: number): Promise<AnnouncementVerdict> {
    const missing: string[] = [];
    const mismatched = [...this.#unparsable.map((e) => `unparsable event: ${e}`)];
    const closed = new Set<string>();
    for (const type of types) {
      for (const o of await storage.list(layout.closedType(type))) {
        if (!o.key.endsWith(`/${layout.manifestName}`)) continue;
        const bytes = await storage.get(o.key);
        const manifest = JSON.parse(bytes.toString('utf8')) as { type: string; windowStart: string; windowEnd: string; status: string; events: number };
        const key = `${manifest.type}/${manifest.windowStart}`;
        closed.add(key);
        const bodies = this.#bodies.get(key);
        const ofTheRun = Date.parse(manifest.windowStart) * 1000 < toUs && Date.parse(manifest.windowEnd) * 1000 > fromUs;
        if (!bodies) {
          // A window closed after the run, as the checkers were stopped, may be announced by the next checker to run.
          if (!ofTheRun) continue;
          missing.push(`${key} (${manifest.status}, ${manifest.events} events) was never announced`);
          continue;
        }
        if (bodies.size > 1) mismatched.push(`${key}: ${bodies.size} different events for one close`);
        const event = parseWindowClosedEvent([...bodies][0]!);
        const sha = createHash('sha256').update(bytes).digest('hex');
        if (event.manifest.sha256 !== sha) mismatched.push(`${key}: announced SHA-256 ${event.manifest.sha256}, the stored manifest's is ${sha}`);
        if (event.status !== manifest.status || event.events !== manifest.events) mismatched.push(`${key}: announced ${event.status}/${event.events}, the manifest says ${manifest.status}/${manifest.events}`);
      }
    }
    for (const key of this.#bodies.keys()) if (!closed.has(key)) mismatched.push(`${key} was announced but has no manifest`);
    return {
      windowsClosed: closed.size,
      windowsAnnounced: this.#bodies.size,
      events: this.#events,
      duplicates: this.#events - this.#bodies.size - this.#unparsable.length,
      missing,
      mismatched,
      subscriptionErrors: [...this.#subscriptionErrors],
    };
  }
}
