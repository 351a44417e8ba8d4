// Where the worker's messages come from: one streaming pull per type's subscription, each with its own flow control.
//
// Flow control is per subscription on purpose: messages held by the worker (buffered in an open
// staging file, or being written) count against their own subscription only, so a type that floods
// its topic fills its own budget and pauses its own stream while the other types keep flowing.
// The worker only sees `InboundMessage`s, so tests can drive it with any `MessageSource`.
import { Duration, type Message, type PubSub, type Subscription } from '@google-cloud/pubsub';
import type { TopicNames } from '../wire/topics.ts';

/** One delivery of one Pub/Sub message. A redelivery is a new InboundMessage. */
export interface InboundMessage {
  readonly id: string;
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  /** When Pub/Sub accepted the message (ms since epoch). */
  readonly publishTimeMs: number;
  /** The subscription that delivered it. */
  readonly subscription: string;
  /** The event type that subscription carries. */
  readonly type: string;
  /** Settles the message for good: Pub/Sub will not deliver it again (except as a rare duplicate). */
  ack(): void;
  /** Hands the message back: Pub/Sub delivers it again, to this or another worker. */
  nack(): void;
}

export interface SourceEvents {
  message(m: InboundMessage): void;
  /** A stream failed; the source keeps trying to reopen it. */
  error(err: Error, subscription: string): void;
}

export interface MessageSource {
  /** Starts pulling; every delivered message goes to `events.message`. */
  start(events: SourceEvents): void;
  /**
   * Stops pulling at once, then resolves when every delivered message has been acked or nacked and
   * those acks were sent (messages still unsettled when the source's own timeout passes are nacked).
   * Idempotent.
   */
  close(): Promise<void>;
}

export interface PubsubSourceOptions {
  readonly types: readonly string[];
  readonly names: TopicNames;
  /** Flow control per subscription. */
  readonly maxMessagesPerSubscription: number;
  readonly maxBytesPerSubscription: number;
  readonly streamsPerSubscription: number;
  /**
   * Ceiling of close()'s wait for the worker to settle delivered messages (ms); past it the library nacks
   * what is left. Not the bound of a stop: Worker.stop() settles every message by its writes deadline and
   * waits for close() only until its release deadline (shutdown-budget.ts).
   */
  readonly closeTimeoutMs: number;
}

/** Delay before reopening a subscription whose stream closed on an error (ms): doubles up to the ceiling. */
const REOPEN_FIRST_MS = 500;
const REOPEN_MAX_MS = 30_000;

/** The real source: streaming pull of `@google-cloud/pubsub`, one subscription per type. */
export class PubsubMessageSource implements MessageSource {
  readonly #pubsub: PubSub;
  readonly #options: PubsubSourceOptions;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #reopenTimers = new Set<NodeJS.Timeout>();
  #closing: Promise<void> | undefined;

  constructor(pubsub: PubSub, options: PubsubSourceOptions) {
    this.#pubsub = pubsub;
    this.#options = options;
  }

  start(events: SourceEvents): void {
    if (this.#subscriptions.size > 0 || this.#closing) throw new Error('message source already started');
    const o = this.#options;
    for (const type of o.types) {
      const name = o.names.workerSubscription(type);
      const subscription = this.#pubsub.subscription(name, {
        flowControl: { maxMessages: o.maxMessagesPerSubscription, maxBytes: o.maxBytesPerSubscription },
        streamingOptions: { maxStreams: o.streamsPerSubscription },
        // stop() writes and acks what it holds, and nacks what it could not write in time, before the
        // subscription is released; the library's own timeout is only a ceiling (see closeTimeoutMs).
        closeOptions: { behavior: 'WAIT', timeout: Duration.from({ milliseconds: o.closeTimeoutMs }) },
      });
      this.#subscriptions.set(type, subscription);
      subscription.on('message', (m: Message) => events.message(inbound(m, name, type)));
      subscription.on('error', (err: Error) => events.error(err, name));
      let delayMs = REOPEN_FIRST_MS;
      subscription.on('close', () => {
        if (this.#closing) return;
        // The library closes a subscription whose stream failed for good (say, it was deleted and
        // re-created); keep trying, as a worker that silently stops pulling loses its hours.
        const timer = setTimeout(() => {
          this.#reopenTimers.delete(timer);
          if (!this.#closing && !subscription.isOpen) subscription.open();
        }, delayMs);
        timer.unref();
        this.#reopenTimers.add(timer);
        delayMs = Math.min(REOPEN_MAX_MS, delayMs * 2);
      });
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#reopenTimers) clearTimeout(timer);
      await Promise.all([...this.#subscriptions.values()].map((s) => s.close().catch(() => undefined)));
    })();
    return this.#closing;
  }
}

function inbound(m: Message, subscription: string, type: string): InboundMessage {
  return {
    id: m.id,
    data: m.data,
    attributes: m.attributes,
    publishTimeMs: m.publishTime.getTime(),
    subscription,
    type,
    ack: () => m.ack(),
    nack: () => m.nack(),
  };
}
