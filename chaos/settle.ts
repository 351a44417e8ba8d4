// When is a chaos run over? When every worker subscription is drained and every window of the run is closed — not merely when staging is empty.
//
// A subscription is probed by a subscriber of the suite's own: whatever it is handed is counted and
// nacked at once (so a worker gets it again). Drained means several probes in a row found nothing,
// over a span longer than the ack deadline, so a message leased by a killed worker has come back
// and would have been seen. After the services stop, the same subscriptions are read one last time
// (finalLeftover) and what is still there is written down for the audit.
import { appendFileSync } from 'node:fs';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { layout } from '../services/storage/layout.ts';
import type { Storage } from '../services/storage/storage.ts';
import type { TopicNames } from '../services/wire/topics.ts';

/** Messages a subscriber of our own is handed in `forMs`, per type (each nacked at once). */
export async function probeSubscriptions(pubsub: PubSub, names: TopicNames, types: readonly string[], forMs: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const subs = types.map((type) => {
    const sub = pubsub.subscription(names.workerSubscription(type), { flowControl: { maxMessages: 100 } });
    sub.on('message', (m: Message) => {
      counts.set(type, (counts.get(type) ?? 0) + 1);
      m.nack();
    });
    sub.on('error', () => undefined);
    return sub;
  });
  await new Promise((r) => setTimeout(r, forMs));
  for (const sub of subs) {
    sub.removeAllListeners('message');
    await sub.close().catch(() => undefined);
  }
  return counts;
}

/**
 * After every service stopped: reads what is left in the worker subscriptions until nothing has come
 * for `quietMs` (longer than the ack deadline, so leases of killed workers have expired), leaving it
 * unacknowledged; one JSON line per message ({"p","t","f","n","id","attempt"}) into `file`.
 */
export async function finalLeftover(pubsub: PubSub, names: TopicNames, types: readonly string[], quietMs: number, file: string): Promise<number> {
  let n = 0;
  let lastMs = Date.now();
  const subs = types.map((type) => {
    const sub = pubsub.subscription(names.workerSubscription(type), { flowControl: { maxMessages: 5000 } });
    sub.on('message', (m: Message) => {
      n++;
      lastMs = Date.now();
      const a = m.attributes;
      appendFileSync(file, `${JSON.stringify({ p: a.publisher, t: a.type, f: Number(a.first_seq), n: Number(a.count), id: m.id, attempt: m.deliveryAttempt })}\n`);
    });
    sub.on('error', () => undefined);
    return sub;
  });
  while (Date.now() - lastMs < quietMs) await new Promise((r) => setTimeout(r, 250));
  for (const sub of subs) {
    sub.removeAllListeners('message');
    await sub.close().catch(() => undefined);
  }
  return n;
}

/** Windows of the run (every type, every window from `fromUs` to `toUs`) that have no _SUCCESS yet. */
export async function openWindows(storage: Storage, types: readonly string[], windowS: number, fromUs: number, toUs: number): Promise<string[]> {
  const windowUs = windowS * 1_000_000;
  const open: string[] = [];
  for (const type of types) {
    for (let index = Math.floor(fromUs / windowUs); index <= Math.floor(toUs / windowUs); index++) {
      const key = `${layout.closed({ type, index, lengthS: windowS })}${layout.successName}`;
      if (!(await storage.stat(key))) open.push(key);
    }
  }
  return open;
}
