// Pulls and acknowledges every message of a subscription until it has been quiet for a while; for assertions.
import type { Message, PubSub } from '@google-cloud/pubsub';

export interface DrainedMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
  readonly id: string;
  readonly publishTime: Date;
}

export async function drainSubscription(pubsub: PubSub, name: string, options: { quietMs?: number; maxWaitMs?: number } = {}): Promise<DrainedMessage[]> {
  const quietMs = options.quietMs ?? 1500;
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const subscription = pubsub.subscription(name, { flowControl: { maxMessages: 1000, allowExcessMessages: false } });
  const out: DrainedMessage[] = [];
  let last = Date.now();
  const onMessage = (m: Message) => {
    out.push({ data: m.data, attributes: { ...m.attributes }, id: m.id, publishTime: m.publishTime });
    m.ack();
    last = Date.now();
  };
  subscription.on('message', onMessage);
  subscription.on('error', () => undefined);
  const started = Date.now();
  while (Date.now() - last < quietMs && Date.now() - started < maxWaitMs) await new Promise((r) => setTimeout(r, 100));
  subscription.off('message', onMessage);
  await subscription.close();
  return out;
}
