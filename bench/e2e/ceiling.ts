// The Pub/Sub emulator's own ceiling on this machine: a publisher process sends 100 KB messages as fast as it takes them, a subscriber process only acks them.
//
// This file is also the two child processes' entry (--role raw-publisher | ack-subscriber).
import { randomBytes } from 'node:crypto';
import type { Message } from '@google-cloud/pubsub';
import { emulatorClient, type LocalStack } from '../../services/local-stack/local-stack.ts';
import { spawnChild } from '../kit/child-process.ts';
import { medianRate, type MedianRate } from '../kit/stats.ts';

export const CEILING_MESSAGE_BYTES = 100 * 1024;
const SELF = new URL(import.meta.url).pathname;

/** Bytes/s acked over the steady part of a `seconds`-long run (median of one-second steps after `warmupS`). */
export async function emulatorCeiling(stack: LocalStack, seconds: number, warmupS: number): Promise<MedianRate> {
  const env = { PUBSUB_EMULATOR_HOST: stack.pubsub.host, HOURGLASS_PROJECT: stack.pubsub.projectId };
  const topic = `bench-ceiling-${randomBytes(3).toString('hex')}`;
  await stack.client.createTopic(topic);
  await stack.client.topic(topic).createSubscription(`${topic}-sub`, { ackDeadlineSeconds: 60 });
  try {
    const subscriber = spawnChild([SELF, '--role', 'ack-subscriber', `${topic}-sub`], env);
    await subscriber.line((l) => l.ready === true);
    const samples: Array<{ t: number; n: number }> = [];
    subscriber.onLine((l) => {
      if (typeof l.bytes === 'number') samples.push({ t: l.t as number, n: l.bytes });
    });
    const publisher = spawnChild([SELF, '--role', 'raw-publisher', topic, String(seconds)], env);
    await publisher.exited;
    await subscriber.stop();
    return medianRate(samples, warmupS * 1000, (seconds - 1) * 1000);
  } finally {
    await stack.client.subscription(`${topic}-sub`).delete().catch(() => undefined);
    await stack.client.topic(topic).delete().catch(() => undefined);
  }
}

function emit(l: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(l)}\n`);
}

function client() {
  return emulatorClient(process.env.PUBSUB_EMULATOR_HOST!, process.env.HOURGLASS_PROJECT!);
}

/** Publishes 100 KB messages as fast as the emulator accepts them, for `seconds`. */
async function rawPublisher(topicName: string, seconds: number): Promise<void> {
  const pubsub = client();
  const topic = pubsub.topic(topicName, { batching: { maxMessages: 10, maxMilliseconds: 5, maxBytes: 9 * 1024 * 1024 } });
  const payloads = Array.from({ length: 16 }, () => randomBytes(CEILING_MESSAGE_BYTES));
  const end = Date.now() + seconds * 1000;
  const inFlight = new Set<Promise<unknown>>();
  let sent = 0;
  while (Date.now() < end) {
    while (inFlight.size >= 64) await Promise.race(inFlight);
    const p = topic.publishMessage({ data: payloads[sent++ % payloads.length]! }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.allSettled(inFlight);
  emit({ sent });
  await pubsub.close();
}

/** Acks everything and reports cumulative bytes every 250 ms. */
async function ackSubscriber(subscriptionName: string): Promise<void> {
  const pubsub = client();
  const subscription = pubsub.subscription(subscriptionName, { flowControl: { maxMessages: 500, maxBytes: 128 * 1024 * 1024 } });
  let bytes = 0;
  let messages = 0;
  subscription.on('message', (m: Message) => {
    bytes += m.length;
    messages++;
    m.ack();
  });
  subscription.on('error', () => undefined);
  const timer = setInterval(() => emit({ t: Date.now(), bytes, messages }), 250);
  emit({ ready: true });
  process.on('SIGTERM', () => {
    clearInterval(timer);
    void subscription
      .close()
      .then(() => pubsub.close())
      .then(() => process.exit(0));
  });
}

if (import.meta.main) {
  const [flag, role, ...rest] = process.argv.slice(2);
  if (flag !== '--role') throw new Error('usage: node bench/e2e/ceiling.ts --role raw-publisher <topic> <seconds> | ack-subscriber <subscription>');
  if (role === 'raw-publisher') await rawPublisher(rest[0]!, Number(rest[1]));
  else if (role === 'ack-subscriber') await ackSubscriber(rest[0]!);
  else throw new Error(`unknown role ${role}`);
}
