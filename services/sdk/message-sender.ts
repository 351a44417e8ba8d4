// Sends one message to a Pub/Sub topic, retrying retryable failures with backoff and jitter until a deadline.
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { HourglassError } from '../errors/catalogue.ts';
import { decideRetry, type BackoffOptions } from './retry-policy.ts';

export interface SenderOptions extends BackoffOptions {
  readonly publishDeadlineMs: number;
  readonly attemptTimeoutMs: number;
}

export interface SendObserver {
  /** Called on every failed attempt (for health and metrics). */
  onAttemptFailed(err: unknown): void;
  onSent(): void;
}

export class MessageSender {
  readonly #pubsub: PubSub;
  readonly #options: SenderOptions;
  readonly #observer: SendObserver;
  readonly #topics = new Map<string, Topic>();

  constructor(pubsub: PubSub, options: SenderOptions, observer: SendObserver) {
    this.#pubsub = pubsub;
    this.#options = options;
    this.#observer = observer;
  }

  /** Resolves once Pub/Sub acknowledged the message; rejects with a typed error past the deadline or on a permanent failure. */
  async send(topicName: string, data: Buffer, attributes: Record<string, string>): Promise<void> {
    const deadline = Date.now() + this.#options.publishDeadlineMs;
    const topic = this.#topic(topicName);
    for (let attempt = 0; ; attempt++) {
      try {
        await withTimeout(topic.publishMessage({ data, attributes }), Math.min(this.#options.attemptTimeoutMs, Math.max(1, deadline - Date.now())));
        this.#observer.onSent();
        return;
      } catch (err) {
        this.#observer.onAttemptFailed(err);
        const decision = decideRetry(err, attempt, deadline - Date.now(), this.#options);
        if (decision.kind === 'permanent') {
          const retryable = Date.now() >= deadline;
          throw new HourglassError(
            retryable ? 'HG_PUBSUB_UNAVAILABLE' : 'HG_PUBLISH_FAILED',
            retryable
              ? `Pub/Sub did not accept the message to ${topicName} within ${this.#options.publishDeadlineMs} ms (${attempt + 1} attempts): ${(err as Error).message}`
              : `Pub/Sub refused the message to ${topicName}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        await new Promise((r) => setTimeout(r, decision.retryInMs));
      }
    }
  }

  /** Flushes the client's own batches. */
  async flush(): Promise<void> {
    await Promise.all([...this.#topics.values()].map((t) => t.flush().catch(() => undefined)));
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = this.#pubsub.topic(name, {
        // Our messages are already batches; let the client group a few per request, briefly.
        batching: { maxMessages: 50, maxMilliseconds: 2, maxBytes: 9 * 1024 * 1024 },
        // One attempt per call: the retry loop above owns retries and the deadline.
        gaxOpts: { timeout: this.#options.attemptTimeoutMs, maxRetries: 0 },
      });
      this.#topics.set(name, topic);
    }
    return topic;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`publish attempt timed out after ${ms} ms`), { code: 4 })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
