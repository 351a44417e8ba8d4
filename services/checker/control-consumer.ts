// Consumes the control topic into the heartbeat table; acknowledges heartbeats only once the table holding them is
// saved. Publishes a probe each round: reading probes back tells how far the topic has been read, even when no
// publisher is sending (see heartbeat-table.ts).
import { Duration, type Message, type PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import type { Storage } from '../storage/storage.ts';
import { parseHeartbeat } from '../wire/heartbeat.ts';
import type { HeartbeatTable } from './heartbeat-table.ts';

/**
 * Leases of at least a minute. The client re-leases every held message at a random time within 0.9 × the lease minus
 * the latency of a modAck; with its 10-s default and a slow Pub/Sub (an overloaded emulator: modAcks taking seconds)
 * that comes to zero, and it re-leased thousands of held heartbeats back to back: a quarter of the checker's CPU at
 * 1000 publishers (bench/scale.bench.ts, --cpu-prof). Heartbeats are acked within a second or two, so a long lease costs
 * nothing; a crashed checker's are delivered again a minute later, as before the next snapshot would need them.
 */
export const LEASE_OPTIONS = { minAckDeadline: Duration.from({ seconds: 60 }), maxAckDeadline: Duration.from({ seconds: 600 }) };

/** Attribute `kind` of a checker's probe on the control topic (a publisher's heartbeat says "heartbeat"). */
export const PROBE_KIND = 'probe';

export class ControlConsumer {
  readonly #subscription: Subscription;
  readonly #topic: Topic;
  readonly #table: HeartbeatTable;
  readonly #checkerId: string;
  #unacked: Message[] = [];
  malformed = 0;
  /** Probes that could not be published (the next round sends another). */
  probeFailures = 0;

  constructor(pubsub: PubSub, names: { topic: string; subscription: string }, table: HeartbeatTable, checkerId: string) {
    this.#table = table;
    this.#checkerId = checkerId;
    this.#topic = pubsub.topic(names.topic, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
    this.#subscription = pubsub.subscription(names.subscription, { flowControl: { maxMessages: 5000 }, ...LEASE_OPTIONS });
    this.#subscription.on('message', (m: Message) => {
      this.#table.noteControl(m.publishTime.getTime());
      if (m.attributes?.kind === PROBE_KIND) {
        // Its publish time is noted; it carries nothing to save.
        m.ack();
        return;
      }
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

  /** Publishes a probe; failures are counted, not thrown (a later probe does the same job). */
  probe(): void {
    this.#topic.publishMessage({ data: Buffer.from(PROBE_KIND), attributes: { kind: PROBE_KIND, checker: this.#checkerId } }).catch(() => void this.probeFailures++);
  }

  /** Saves the table, then acknowledges every heartbeat it holds; `stopped` marks the last save of a clean stop. */
  async persist(storage: Storage, nowMs: number, stopped = false): Promise<void> {
    const batch = this.#unacked;
    this.#unacked = [];
    try {
      await this.#table.save(storage, this.#checkerId, nowMs, stopped);
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
