// Consumes the heartbeat topic into the heartbeat table; acknowledges heartbeats only once the table holding them is saved.
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import type { Storage } from '../storage/storage.ts';
import { parseHeartbeat } from '../wire/heartbeat.ts';
import type { HeartbeatTable } from './heartbeat-table.ts';

export class ControlConsumer {
  readonly #subscription: Subscription;
  readonly #table: HeartbeatTable;
  #unacked: Message[] = [];
  malformed = 0;

  constructor(pubsub: PubSub, subscriptionName: string, table: HeartbeatTable) {
    this.#table = table;
    this.#subscription = pubsub.subscription(subscriptionName, { flowControl: { maxMessages: 5000 } });
    this.#subscription.on('message', (m: Message) => {
      const parsed = parseHeartbeat(m.data);
      if (parsed.ok) {
        this.#table.observe(parsed.value, m.publishTime.getTime());
        this.#unacked.push(m);
      } else {
        // A malformed heartbeat can never bound anything; count it and let it go.
        this.malformed++;
        m.ack();
      }
    });
    this.#subscription.on('error', () => undefined);
  }

  /** Saves the table, then acknowledges every heartbeat it holds. */
  async persist(storage: Storage, checkerId: string): Promise<void> {
    const batch = this.#unacked;
    this.#unacked = [];
    try {
      await this.#table.save(storage, checkerId);
      for (const m of batch) m.ack();
    } catch (err) {
      for (const m of batch) m.nack();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#subscription.removeAllListeners('message');
    await this.#subscription.close();
  }
}
