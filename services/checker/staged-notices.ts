// Reads the staged notices (wire/staged-notice.ts) through one of the notice slots: subscriptions
// <prefix>staged-checker-<slot> made by Terraform (or provision.ts locally), one per possible replica. A replica reads
// the slot of its rank among the live replicas, so each notice reaches every replica; a shared subscription would give
// each notice to one of them only. Slots, not a subscription per replica made at start: making subscriptions takes
// project-wide Pub/Sub rights, which would also let the checker pull the workers' subscriptions.
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { parseStagedNotice, type StagedNotice } from '../wire/staged-notice.ts';
import { LEASE_OPTIONS } from './control-consumer.ts';

/** How long close() waits for the client to let the subscription go (ms). */
const CLOSE_TIMEOUT_MS = 2000;

export interface StagedNoticeHandlers {
  notice(n: StagedNotice): void;
  /** The subscription failed (it stopped delivering, or does not exist); notices may have been missed. */
  failed(err: Error): void;
}

export class StagedNoticeSubscription {
  readonly #pubsub: PubSub;
  readonly #handlers: StagedNoticeHandlers;
  #subscription: Subscription | undefined;
  /** Notices received, and messages that were not notices (acknowledged and dropped). */
  received = 0;
  malformed = 0;

  constructor(pubsub: PubSub, handlers: StagedNoticeHandlers) {
    this.#pubsub = pubsub;
    this.#handlers = handlers;
  }

  get listening(): boolean {
    return this.#subscription !== undefined;
  }

  /**
   * Listens to subscription `name`; the one listened to before is let go in the background (its close waits on the
   * client's streams, and must not hold the caller). A subscription keeps what is published while no one listens.
   */
  open(name: string): void {
    void this.close();
    const subscription = this.#pubsub.subscription(name, { flowControl: { maxMessages: 10_000 }, ...LEASE_OPTIONS });
    subscription.on('message', (m: Message) => {
      // A hint: acknowledged at once (a lost one costs a listing, not an event).
      m.ack();
      const parsed = parseStagedNotice(m.data, m.attributes);
      if (!parsed.ok) {
        this.malformed++;
        return;
      }
      this.received++;
      this.#handlers.notice(parsed.value);
    });
    subscription.on('error', (err: Error) => {
      // The client retries what it can; an error here means delivery stopped (e.g. no such subscription).
      if (this.#subscription !== subscription) return;
      this.#subscription = undefined;
      subscription.removeAllListeners('message');
      void subscription.close().catch(() => undefined);
      this.#handlers.failed(err);
    });
    this.#subscription = subscription;
  }

  /** Stops listening (the slot stays, for whichever replica reads it next); waits at most CLOSE_TIMEOUT_MS. */
  async close(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (!subscription) return;
    subscription.removeAllListeners('message');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([subscription.close().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }
}
