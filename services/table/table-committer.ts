// Reads the closed-windows topic and commits each closed window of a type that opts in to its Iceberg table; acks a window only once it is committed (or refused to the tables' dead-letter area).
//
// One type's windows are committed one at a time, in the order they arrive (the topic's ordering key is
// the type), so a table's commits never race each other within one committer; different types run in
// parallel up to `windowsInParallel`. A failure that may pass (the catalog or the bucket unavailable) is
// retried in place with a growing delay and then nacked, so Pub/Sub delivers it again; a window that can
// never commit as it is (HourRefusedError) is written to tables/refused/<type>/<window>.json with the
// reason and the event, then acked: re-publishing that event to the closed-windows topic redrives it.
// Every copy of a window's event is safe to process: the commit is idempotent (hour-commit.ts).
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { Duration } from '@google-cloud/pubsub';
import { MemoryBudget } from '../concurrency/memory-budget.ts';
import { hasCode } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import { parseWindowClosedEvent, type WindowClosedEvent } from '../wire/window-closed-event.ts';
import { commitHour, HourRefusedError, type HourCommitDeps, type HourCommitOutcome } from './hour-commit.ts';

export const REFUSED_PREFIX = 'tables/refused/';

export interface CommitReport {
  readonly event: WindowClosedEvent;
  readonly outcome: HourCommitOutcome;
  /** From the window's end to the commit (ms). */
  readonly lagMs: number;
}

export interface TableCommitterOptions {
  readonly pubsub: PubSub;
  readonly subscription: string;
  readonly registry: Registry;
  readonly deps: HourCommitDeps;
  readonly windowsInParallel: number;
  /** In-place retries of a failing window before it is nacked. Default 5. */
  readonly retries?: number;
  /** First retry delay (ms), doubling. Default 500. */
  readonly retryDelayMs?: number;
  readonly onCommitted?: (report: CommitReport) => void;
  readonly onSkipped?: (event: WindowClosedEvent, why: string) => void;
  readonly onRefused?: (key: string, reason: string) => void;
  readonly onError?: (error: Error, event: WindowClosedEvent | undefined) => void;
}

/** Where a refused window is kept: tables/refused/<type>/<window start, e.g. 20261204T200000Z>.json */
export function refusedKey(event: Pick<WindowClosedEvent, 'type' | 'windowStart'>): string {
  return `${REFUSED_PREFIX}${event.type}/${event.windowStart.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`;
}

export class TableCommitter {
  readonly #o: TableCommitterOptions;
  readonly #subscription: Subscription;
  readonly #slots: MemoryBudget;
  /** The tail of each type's chain of windows. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopping = false;

  constructor(options: TableCommitterOptions) {
    this.#o = options;
    this.#slots = new MemoryBudget(options.windowsInParallel);
    // A conversion of a big hour takes minutes: the lease is extended while it runs, up to an hour.
    this.#subscription = options.pubsub.subscription(options.subscription, {
      flowControl: { maxMessages: Math.max(64, options.windowsInParallel * 4) },
      minAckDeadline: Duration.from({ seconds: 60 }),
      maxAckDeadline: Duration.from({ seconds: 600 }),
      maxExtensionTime: Duration.from({ seconds: 3600 }),
    });
  }

  start(): void {
    this.#subscription.on('message', (m: Message) => this.#receive(m));
    this.#subscription.on('error', (err: Error) => this.#o.onError?.(err, undefined));
  }

  #receive(m: Message): void {
    let event: WindowClosedEvent;
    try {
      event = parseWindowClosedEvent(m.data);
    } catch (err) {
      this.#track(this.#refuse(`${REFUSED_PREFIX}_unparseable/${m.id}.json`, (err as Error).message, { messageId: m.id, attributes: m.attributes, dataBase64: m.data.toString('base64') }).then(() => m.ack(), () => m.nack()));
      return;
    }
    const type = this.#o.registry.get(event.type);
    if (!type) {
      // A type this committer's registry does not know (it runs older schemas than the checker): kept, to publish again once it does.
      this.#track(this.#refuse(refusedKey(event), `type "${event.type}" is not in this committer's registry: deploy it with the checker's schemas, then publish the event again`, { event }).then(() => m.ack(), () => m.nack()));
      return;
    }
    if (!type.config.table) {
      this.#o.onSkipped?.(event, 'the type does not opt in ("table": true in its type.json)');
      m.ack();
      return;
    }
    const previous = this.#chains.get(event.type) ?? Promise.resolve();
    const next = previous.then(() => this.#slots.run(1, () => this.#process(m, event)));
    this.#chains.set(event.type, next);
    this.#track(next.finally(() => {
      if (this.#chains.get(event.type) === next) this.#chains.delete(event.type);
    }));
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  async #process(m: Message, event: WindowClosedEvent): Promise<void> {
    const retries = this.#o.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      if (this.#stopping) {
        m.nack();
        return;
      }
      try {
        const outcome = await commitHour(this.#o.deps, event);
        this.#o.onCommitted?.({ event, outcome, lagMs: Date.now() - Date.parse(event.windowEnd) });
        m.ack();
        return;
      } catch (err) {
        if (err instanceof HourRefusedError) {
          try {
            await this.#refuse(refusedKey(event), err.message, { event });
            m.ack();
          } catch (writeErr) {
            this.#o.onError?.(writeErr as Error, event);
            m.nack();
          }
          return;
        }
        this.#o.onError?.(err as Error, event);
        if (attempt >= retries) {
          m.nack();
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(60_000, (this.#o.retryDelayMs ?? 500) * 2 ** attempt)));
      }
    }
  }

  /** Create-only (the committer may create under tables/refused/, nothing more): a window refused before keeps its first record. */
  async #refuse(key: string, reason: string, body: Record<string, unknown>): Promise<void> {
    try {
      await this.#o.deps.bucket.createOnly(key, JSON.stringify({ format: 'hg-table-refused-1', reason, refusedAt: new Date().toISOString(), committer: this.#o.deps.committer, ...body }, null, 2));
    } catch (err) {
      if (!hasCode(err, 'HG_STORAGE_EXISTS')) throw err;
    }
    this.#o.onRefused?.(key, reason);
  }

  /** Stops taking messages, lets windows in progress finish (or nacks those still waiting), and closes the subscription. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#subscription.removeAllListeners('message');
    await Promise.allSettled([...this.#inFlight]);
    await this.#subscription.close();
  }
}
