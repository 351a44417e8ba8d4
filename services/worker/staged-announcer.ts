// Publishes a staged notice (wire/staged-notice.ts) for each staging object the worker made durable, best effort:
// a notice lets the checkers skip listing the bucket, and one that is lost costs a checker a later listing, never
// an event. So a failure is counted and reported, and never holds an ack back or fails a write.
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { encodeStagedNotice, type StagedNotice } from '../wire/staged-notice.ts';

/** How long close() waits for the notices in flight (ms): a stop has more urgent work. */
const FLUSH_TIMEOUT_MS = 2000;

export class StagedAnnouncer {
  readonly #topic: Topic;
  readonly #onFailure: (err: Error) => void;
  /** Notices handed to the client, and notices whose publish failed. */
  sent = 0;
  failed = 0;

  /** `onFailure` hears of every failed publish (the caller rate-limits its log). */
  constructor(pubsub: PubSub, topicName: string, onFailure: (err: Error) => void) {
    // Batched: a worker stages many files a second across hundreds of types; a notice may wait 20 ms.
    this.#topic = pubsub.topic(topicName, { batching: { maxMessages: 500, maxMilliseconds: 20 } });
    this.#onFailure = onFailure;
  }

  announce(notice: StagedNotice): void {
    this.sent++;
    this.#topic.publishMessage(encodeStagedNotice(notice)).catch((err: unknown) => {
      this.failed++;
      this.#onFailure(err as Error);
    });
  }

  /** Sends what is batched, waiting at most FLUSH_TIMEOUT_MS. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#topic.flush().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, FLUSH_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }
}
