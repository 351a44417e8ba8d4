// The chaos suite's traffic faults, sent straight to the Pub/Sub emulator (not through the proxy the pipeline uses): duplicates, malformed messages; and the gateway's client.
//
// Tap: one extra subscription per event topic, so the suite holds copies of real messages. A
// duplicate is such a copy published again, byte for byte with its attributes (as a redelivery or
// a publisher's retry would look). Malformed messages are recorded by message id; the audit wants
// each of them, and nothing else, in deadletter/.
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import type { TopicNames } from '../services/wire/topics.ts';
import { SAMPLE_EVENTS } from '../test/helpers/sample-events.ts';

interface Tapped {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
}

/** Keeps the last `keep` messages of each event topic, from a subscription of its own. */
export class Tap {
  readonly #subscriptions: Subscription[] = [];
  readonly #recent = new Map<string, Tapped[]>();
  readonly #keep: number;

  private constructor(keep: number) {
    this.#keep = keep;
  }

  /**
   * `logFile`, when given, gets one JSON line per tapped message ({"p","t","f","n","id"}): an
   * independent witness of what reached Pub/Sub, for the audit to tell where a missing event was lost.
   */
  static async open(pubsub: PubSub, names: TopicNames, types: readonly string[], keep = 300, logFile?: string): Promise<Tap> {
    const tap = new Tap(keep);
    for (const type of types) {
      const name = `chaos-tap-${type}`;
      const [exists] = await pubsub.subscription(name).exists();
      if (!exists) await pubsub.topic(names.eventTopic(type)).createSubscription(name, { ackDeadlineSeconds: 60 });
      const sub = pubsub.subscription(name, { flowControl: { maxMessages: 1000 } });
      const recent: Tapped[] = [];
      tap.#recent.set(type, recent);
      sub.on('message', (m: Message) => {
        recent.push({ data: m.data, attributes: { ...m.attributes } });
        if (logFile) {
          const a = m.attributes;
          appendFileSync(logFile, `${JSON.stringify({ p: a.publisher, t: a.type, f: Number(a.first_seq), n: Number(a.count), id: m.id })}\n`);
        }
        if (recent.length > tap.#keep) recent.splice(0, recent.length - tap.#keep);
        m.ack();
      });
      sub.on('error', () => undefined);
      tap.#subscriptions.push(sub);
    }
    return tap;
  }

  /** A recent real message of `type` (only well-formed ones are tapped before any malformed is sent of that shape). */
  pick(type: string, random: () => number): Tapped | undefined {
    const recent = (this.#recent.get(type) ?? []).filter((m) => m.attributes.format === 'hg1' && !m.attributes.publisher?.startsWith('chaos-malformed'));
    return recent.length === 0 ? undefined : recent[Math.floor(random() * recent.length)];
  }

  async close(): Promise<void> {
    for (const s of this.#subscriptions) {
      s.removeAllListeners('message');
      await s.close().catch(() => undefined);
    }
  }
}

/** Publishes `count` copies of tapped messages again; returns how many were sent. */
export async function sendDuplicates(pubsub: PubSub, names: TopicNames, tap: Tap, types: readonly string[], count: number, random: () => number): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const type = types[Math.floor(random() * types.length)]!;
    const m = tap.pick(type, random);
    if (!m) continue;
    await pubsub.topic(names.eventTopic(type)).publishMessage({ data: m.data, attributes: m.attributes });
    sent++;
  }
  return sent;
}

const MALFORMED_KINDS = ['missing_count', 'wrong_count', 'garbage_data', 'unknown_version', 'wrong_window_length', 'wrong_topic', 'unknown_type'] as const;

/** Publishes `count` malformed messages of assorted kinds; appends {"id","t","kind"} per message to `recordFile`. */
export async function sendMalformed(
  pubsub: PubSub,
  names: TopicNames,
  tap: Tap,
  types: readonly string[],
  windowS: number,
  count: number,
  random: () => number,
  recordFile: string,
  serial: { n: number },
): Promise<number> {
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const kind = MALFORMED_KINDS[Math.floor(random() * MALFORMED_KINDS.length)]!;
    const type = types[Math.floor(random() * types.length)]!;
    const real = tap.pick(type, random);
    if (!real) continue;
    const publisher = `chaos-malformed-${serial.n++}`;
    const attributes: Record<string, string> = { ...real.attributes, publisher };
    let data = real.data;
    let topicType = type;
    switch (kind) {
      case 'missing_count':
        delete attributes.count;
        break;
      case 'wrong_count':
        attributes.count = String(Number(attributes.count) + 1);
        break;
      case 'garbage_data':
        data = Buffer.from(Array.from({ length: 64 + Math.floor(random() * 512) }, () => Math.floor(random() * 256)));
        break;
      case 'unknown_version':
        attributes.version = '99';
        break;
      case 'wrong_window_length': {
        // Consistent attributes, but a window length the pipeline does not use.
        const other = windowS * 2;
        const minRt = Number(attributes.min_rt);
        attributes.window_s = String(other);
        attributes.window = String(Math.floor(minRt / (other * 1_000_000)));
        attributes.max_rt = String(minRt);
        break;
      }
      case 'wrong_topic':
        topicType = types.find((t) => t !== type) ?? type;
        break;
      case 'unknown_type':
        attributes.type = 'no_such_type';
        break;
    }
    const id = await pubsub.topic(names.eventTopic(topicType)).publishMessage({ data, attributes });
    appendFileSync(recordFile, `${JSON.stringify({ id, t: topicType, kind })}\n`);
    sent++;
  }
  return sent;
}

/**
 * An app posting to the gateway with its bearer token: batches of events with client event ids; a batch
 * answered 2xx is recorded with the client's scope (its token's name: the ids are delivered as
 * "<scope>:<id>"); one that fails is retried with the same ids (as a client would), a few times.
 */
export class GatewayClient {
  url: string | undefined;
  readonly #recordFile: string;
  readonly #types: readonly string[];
  readonly #auth: { readonly client: string; readonly token: string };
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly #retry: Array<{ type: string; body: string; ids: string[]; tries: number }> = [];
  #n = 0;
  #inFlight = 0;
  accepted = 0;
  failedRequests = 0;
  gaveUp = 0;

  constructor(recordFile: string, types: readonly string[], auth: { readonly client: string; readonly token: string }) {
    this.#recordFile = recordFile;
    this.#types = types;
    this.#auth = auth;
  }

  /** Sends one new batch of `size` events (and one retry, if any is due). */
  tick(size: number, runId: string): void {
    if (this.url === undefined || this.#inFlight > 16) return;
    const retry = this.#retry.shift();
    if (retry) this.#post(retry);
    const type = this.#types[this.#n % this.#types.length]!;
    const ids: string[] = [];
    const items = Array.from({ length: size }, (_, k) => {
      const id = `gw-${runId}-${this.#n}-${k}`;
      ids.push(id);
      return { event_id: id, payload: { ...SAMPLE_EVENTS[type]!(this.#n * size + k), user_id: id } };
    });
    this.#n++;
    this.#post({ type, body: JSON.stringify(items), ids, tries: 0 });
  }

  /** Retries what is pending until it is accepted or `deadline` passes. */
  async drain(deadlineMs: number): Promise<void> {
    while ((this.#retry.length > 0 || this.#inFlight > 0) && Date.now() < deadlineMs) {
      const retry = this.#retry.shift();
      if (retry && this.url) this.#post(retry);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  #post(req: { type: string; body: string; ids: string[]; tries: number }): void {
    this.#inFlight++;
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      this.#inFlight--;
      if (ok) {
        this.accepted += req.ids.length;
        appendFileSync(this.#recordFile, `${JSON.stringify({ g: req.ids, t: req.type, s: this.#auth.client })}\n`);
      } else {
        this.failedRequests++;
        if (req.tries < 20) this.#retry.push({ ...req, tries: req.tries + 1 });
        else this.gaveUp += req.ids.length;
      }
    };
    const r = http.request(
      `${this.url}/v1/events/${req.type}`,
      { method: 'POST', agent: this.#agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#auth.token}` }, timeout: 15_000 },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300));
        res.on('error', () => done(false));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', () => done(false));
    r.end(req.body);
  }
}
