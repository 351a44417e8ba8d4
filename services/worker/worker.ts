// The streaming ETL worker: messages from the per-type subscriptions, proven and grouped into staging files, acked only once durable.
//
//   source (message-source.ts) ─▶ validator (message-validator.ts) ─┬─▶ staging group ─▶ staging writer ─▶ ack
//                                                                    └─▶ dead-letter writer ─────────────▶ ack
//
// A group is written when it reaches maxFileBytes, when it is maxFileAgeMs old, as soon as its window
// has ended (so the checker can close the window), when buffered bytes pass the global cap, and on
// flush()/stop(). A failed write is retried; a write that keeps failing nacks its messages, so
// Pub/Sub delivers them again. Nothing is acked before the bytes holding it are durable.
// Stateless: staging names carry the worker id, so any number of workers share the subscriptions.
import type { PubSub } from '@google-cloud/pubsub';
import { HourglassError } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import type { Storage } from '../storage/storage.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { topicNames } from '../wire/topics.ts';
import { windowEndUs } from '../wire/window.ts';
import { DeadLetterWriter } from './dead-letter.ts';
import { PubsubMessageSource, type InboundMessage, type MessageSource } from './message-source.ts';
import { MessageValidator, type AcceptedMessage, type RejectedMessage } from './message-validator.ts';
import { groupKeyOf, StagingGroup, type SealedStagingFile } from './staging-group.ts';
import { StagingWriter } from './staging-writer.ts';
import type { ResolvedWorkerOptions } from './worker-options.ts';
import { WorkerCounters, type WorkerStats } from './worker-stats.ts';

/** Something worth a log line; `event` is a stable name, the rest are fields. */
export interface WorkerLogEvent {
  readonly level: 'info' | 'warn' | 'error';
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface WorkerDeps {
  readonly registry: Registry;
  readonly storage: Storage;
  /** Where messages come from. Default: streaming pull through `pubsub`. */
  readonly source?: MessageSource;
  /** Pub/Sub client for the default source; the caller owns it and closes it after stop(). */
  readonly pubsub?: PubSub;
  /** Decides file age and ended windows. Default: the system clock. */
  readonly clock?: Clock;
  /** Receives notable events (write retries and failures, dead letters, stream errors). Default: ignored. */
  readonly log?: (event: WorkerLogEvent) => void;
}

type State = 'new' | 'running' | 'stopping' | 'stopped';

export class Worker {
  readonly id: string;
  /** The event types this worker pulls. */
  readonly types: readonly string[];
  readonly #o: ResolvedWorkerOptions;
  readonly #clock: Clock;
  readonly #source: MessageSource;
  readonly #log: (event: WorkerLogEvent) => void;
  readonly #validator: MessageValidator;
  readonly #stagingWriter: StagingWriter;
  readonly #deadLetters: DeadLetterWriter;
  readonly #counters = new WorkerCounters();
  readonly #groups = new Map<string, StagingGroup>();
  readonly #inFlight = new Set<Promise<void>>();
  #openBytes = 0;
  #state: State = 'new';
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ResolvedWorkerOptions, deps: WorkerDeps) {
    this.#o = options;
    this.id = options.workerId;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.log ?? (() => undefined);
    const unknown = (options.types ?? []).filter((t) => deps.registry.get(t) === undefined);
    if (unknown.length > 0) {
      throw new HourglassError('HG_CONFIG_INVALID', `worker options: types not in the registry: ${unknown.join(', ')} (known: ${deps.registry.names().join(', ')})`);
    }
    this.types = options.types ?? deps.registry.names();
    if (deps.source) this.#source = deps.source;
    else if (deps.pubsub) {
      this.#source = new PubsubMessageSource(deps.pubsub, {
        types: this.types,
        names: topicNames(options.topicPrefix),
        maxMessagesPerSubscription: options.maxMessagesPerSubscription,
        maxBytesPerSubscription: options.maxBytesPerSubscription,
        streamsPerSubscription: options.streamsPerSubscription,
        closeTimeoutMs: options.shutdownTimeoutMs,
      });
    } else throw new TypeError('Worker needs a message source or a Pub/Sub client');
    this.#validator = new MessageValidator(deps.registry, { windowLengthS: options.windowLengthS, maxBlockBytes: options.maxBlockBytes, codec: options.codec });
    const policy = { initialBackoffMs: options.initialBackoffMs, maxBackoffMs: options.maxBackoffMs, deadlineMs: options.writeRetryDeadlineMs };
    const onRetry = (what: string) => (err: unknown) => {
      this.#counters.writeRetried();
      this.#log({ level: 'warn', event: 'write_retry', what, error: (err as Error).message });
    };
    this.#stagingWriter = new StagingWriter(deps.storage, this.#clock, { ...policy, workerId: options.workerId }, onRetry('staging'));
    this.#deadLetters = new DeadLetterWriter(deps.storage, this.#clock, options.workerId, policy, onRetry('deadletter'));
  }

  /** Starts pulling every subscription and the flush timer. */
  start(): void {
    if (this.#state !== 'new') throw new Error(`worker ${this.id} was already started`);
    this.#state = 'running';
    this.#timer = setInterval(() => this.#flushDue(), this.#o.flushCheckIntervalMs);
    this.#timer.unref();
    this.#source.start({
      message: (m) => this.#onMessage(m),
      error: (err, subscription) => {
        this.#counters.sourceError();
        this.#log({ level: 'warn', event: 'source_error', subscription, error: err.message });
      },
    });
    this.#log({ level: 'info', event: 'worker_started', worker: this.id, types: this.types });
  }

  /** Writes every open staging file now and waits until every write in progress has ended (and its messages were acked or nacked). */
  async flush(): Promise<void> {
    // A dead letter in progress may stage the records it kept when it ends: repeat until nothing is held.
    do {
      for (const group of [...this.#groups.values()]) this.#flushGroup(group);
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    } while (this.#groups.size > 0);
  }

  /**
   * Graceful stop, idempotent: stop pulling, write what is held, ack it, release the subscriptions.
   * Messages still unwritten after shutdownTimeoutMs are nacked (so another worker gets them).
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const wasRunning = this.#state === 'running';
      this.#state = 'stopping';
      clearInterval(this.#timer);
      if (wasRunning) {
        const released = this.#source.close();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, this.#o.shutdownTimeoutMs).unref()))]);
        clearTimeout(timer);
        await released;
      }
      this.#state = 'stopped';
      this.#log({ level: 'info', event: 'worker_stopped', worker: this.id, stats: this.stats() });
    })();
    return this.#stopping;
  }

  stats(): WorkerStats {
    return this.#counters.snapshot();
  }

  #onMessage(m: InboundMessage): void {
    this.#counters.received(m.type, m.data.length);
    if (this.#state !== 'running') {
      // Delivered while stopping: hand it straight back rather than hold it past our exit.
      this.#settle([m], false);
      return;
    }
    let verdict;
    try {
      verdict = this.#validator.validate(m.type, m.data, m.attributes);
    } catch (err) {
      // A bug, not bad data: never drop the message, let it come again (and be seen in the logs).
      this.#log({ level: 'error', event: 'validate_failed', messageId: m.id, subscription: m.subscription, error: (err as Error).stack });
      this.#settle([m], false);
      return;
    }
    if (verdict.ok) this.#stage(m, [verdict]);
    else this.#track(this.#deadLetter(m, verdict));
  }

  /** Stages an accepted message, or the kept runs of a salvaged one (all of one group), settled once with their file. */
  #stage(m: InboundMessage, runs: readonly AcceptedMessage[]): void {
    const accepted = runs[0]!;
    const a = accepted.attributes;
    const key = groupKeyOf({ type: a.type, window: a.window, version: a.version, codec: accepted.codec });
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = new StagingGroup({ type: a.type, window: a.window, version: a.version, codec: accepted.codec }, accepted.schema.deliveredSchemaJson, this.#o.windowLengthS, this.#clock.nowUs());
      this.#groups.set(key, group);
      this.#grew(group.byteLength);
    }
    const before = group.byteLength;
    group.addRuns(m, runs);
    this.#grew(group.byteLength - before);
    if (group.byteLength >= this.#o.maxFileBytes) this.#flushGroup(group);
    while (this.#openBytes > this.#o.maxBufferedBytes && this.#groups.size > 0) this.#flushGroup(this.#largestGroup());
  }

  #grew(bytes: number): void {
    this.#openBytes += bytes;
    this.#counters.buffered(bytes);
  }

  #largestGroup(): StagingGroup {
    let largest: StagingGroup | undefined;
    for (const g of this.#groups.values()) if (largest === undefined || g.byteLength > largest.byteLength) largest = g;
    return largest!;
  }

  /** Timer: writes the groups that are old enough or whose window has ended. */
  #flushDue(): void {
    const now = this.#clock.nowUs();
    const maxAgeUs = this.#o.maxFileAgeMs * 1000;
    for (const group of [...this.#groups.values()]) {
      if (now >= windowEndUs(group.window, group.windowS) || now - group.openedAtUs >= maxAgeUs) this.#flushGroup(group);
    }
  }

  #flushGroup(group: StagingGroup): void {
    this.#groups.delete(groupKeyOf(group));
    this.#openBytes -= group.byteLength;
    this.#track(this.#write(group.seal(), group.byteLength));
  }

  async #write(file: SealedStagingFile, bufferedBytes: number): Promise<void> {
    this.#counters.writeStarted();
    try {
      const outcome = await this.#stagingWriter.write(file).catch((error: unknown) => ({ ok: false as const, error }));
      if (outcome.ok) {
        this.#counters.staged(file.type, file.messages.length, file.events, file.bytes.length);
        this.#settle(file.inbound, true);
      } else {
        this.#counters.writeFailed();
        this.#log({ level: 'error', event: 'staging_write_failed', type: file.type, window: file.window, messages: file.messages.length, error: (outcome.error as Error).message });
        this.#settle(file.inbound, false);
      }
    } finally {
      this.#counters.buffered(-bufferedBytes);
      this.#counters.writeEnded();
    }
  }

  async #deadLetter(m: InboundMessage, verdict: RejectedMessage): Promise<void> {
    this.#counters.writeStarted();
    try {
      const outcome = await this.#deadLetters.write(m, verdict).catch((error: unknown) => ({ ok: false as const, error }));
      if (!outcome.ok) {
        this.#counters.writeFailed();
        this.#log({ level: 'error', event: 'dead_letter_write_failed', messageId: m.id, error: (outcome.error as Error).message });
        this.#settle([m], false);
        return;
      }
      if (verdict.split) {
        const noted = await this.#deadLetters.writeNote(m, verdict.reason, verdict.split, outcome.value).catch((error: unknown) => ({ ok: false as const, error }));
        if (!noted.ok) {
          this.#counters.writeFailed();
          this.#log({ level: 'error', event: 'dead_letter_note_failed', messageId: m.id, error: (noted.error as Error).message });
          this.#settle([m], false);
          return;
        }
      }
      this.#counters.deadLettered(verdict.reason, verdict.typeDir);
      const kept = verdict.split?.kept ?? [];
      this.#log({ level: 'warn', event: 'dead_lettered', reason: verdict.reason, detail: verdict.detail, messageId: m.id, subscription: m.subscription, key: outcome.value, deadLetteredSeqs: verdict.split?.deadLettered, keptEvents: kept.reduce((n, k) => n + k.attributes.count, 0) });
      // The good records of a salvaged message are staged like any message, and acked with their file.
      if (kept.length > 0) this.#stage(m, kept);
      else this.#settle([m], true);
    } finally {
      this.#counters.writeEnded();
    }
  }

  #settle(messages: readonly InboundMessage[], ack: boolean): void {
    for (const m of messages) {
      if (ack) m.ack();
      else m.nack();
    }
    if (ack) this.#counters.acked(messages.length);
    else this.#counters.nacked(messages.length);
  }

  #track(task: Promise<void>): void {
    const tracked = task.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
