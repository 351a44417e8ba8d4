// The streaming ETL worker: messages from the per-type subscriptions, proven and grouped into staging files, acked only once durable.
//
//   source (message-source.ts) ─▶ validator (message-validator.ts) ─┬─▶ staging group ─▶ staging writer ─▶ ack
//                                                                    └─▶ dead-letter writer ─────────────▶ ack
//
// A group is written when it reaches maxFileBytes, when it is maxFileAgeMs old, as soon as its window
// has ended (so the checker can close the window), when buffered bytes pass the global cap, and on
// flush()/stop(). A failed write is retried; a write that keeps failing nacks its messages, so
// Pub/Sub delivers them again. Nothing is acked before the bytes holding it are durable, and each
// delivery is settled (acked or nacked) once: a stop that runs out of time nacks what is still held,
// and a write that ends after that acks nothing.
// Stateless: staging names carry the worker id, so any number of workers share the subscriptions.
import type { PubSub } from '@google-cloud/pubsub';
import { HourglassError } from '../errors/catalogue.ts';
import type { Registry } from '../registry/registry.ts';
import type { Storage } from '../storage/storage.ts';
import { stageSettled, stageStarted } from '../telemetry/tracing.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { topicNames } from '../wire/topics.ts';
import { windowEndUs } from '../wire/window.ts';
import { DeadLetterWriter } from './dead-letter.ts';
import { PubsubMessageSource, type InboundMessage, type MessageSource } from './message-source.ts';
import { planShutdown, type Deadline } from './shutdown-budget.ts';
import { MessageValidator, type AcceptedMessage, type RejectedMessage } from './message-validator.ts';
import { groupKeyOf, StagingGroup, type SealedStagingFile } from './staging-group.ts';
import { StagedAnnouncer } from './staged-announcer.ts';
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

/** The deadlines of a stop (shutdown-budget.ts): writes first, then releasing the subscriptions. */
export interface StopDeadlines {
  /** Everything held is written and acked by then; what is not is nacked, so Pub/Sub delivers it again. */
  readonly writes: Deadline;
  /** The subscriptions are closed and the last acks and nacks sent by then; after it stop() resolves anyway. */
  readonly release: Deadline;
}

/** How a stop went. */
export interface WorkerStopReport {
  /** Every message held was written and acked (or dead-lettered) before the writes deadline. */
  readonly flushed: boolean;
  /** Messages nacked at the writes deadline because the file holding them was not durable yet (Pub/Sub delivers them again). */
  readonly abandonedMessages: number;
  /** Writes still running at the writes deadline: whatever they land is debris or a duplicate, never acked. */
  readonly abandonedWrites: number;
  /** The subscriptions were closed, and the last acks and nacks sent, before the release deadline. */
  readonly released: boolean;
  /** From stop() to here (ms). */
  readonly tookMs: number;
}

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
  /** Staged notices for the checkers (with a Pub/Sub client and announceStaged on). */
  readonly #announcer: StagedAnnouncer | undefined;
  /** When a failed notice was last logged (ms), and the failures since. */
  #noticeFailureLoggedMs = -Infinity;
  #noticeFailures = 0;
  readonly #counters = new WorkerCounters();
  readonly #groups = new Map<string, StagingGroup>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Deliveries received and not yet acked or nacked: each is settled once, whatever ends first (its write, or a stop out of time). */
  readonly #held = new Set<InboundMessage>();
  #openBytes = 0;
  #state: State = 'new';
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<WorkerStopReport> | undefined;

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
        // A ceiling only: stop() settles every message by its writes deadline and stops waiting at its release deadline.
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
    if (deps.pubsub && options.announceStaged) {
      this.#announcer = new StagedAnnouncer(deps.pubsub, topicNames(options.topicPrefix).stagedTopic, (err) => {
        // At most one line a minute: a missing topic would otherwise log once per staged file.
        this.#noticeFailures++;
        if (Date.now() - this.#noticeFailureLoggedMs < 60_000) return;
        this.#noticeFailureLoggedMs = Date.now();
        this.#log({ level: 'warn', event: 'staged_notice_failed', failures: this.#noticeFailures, error: err.message });
        this.#noticeFailures = 0;
      });
    }
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
   * Graceful stop, idempotent (later calls get the first call's promise, whatever deadlines they pass):
   * stop pulling, write what is held and ack it until `deadlines.writes`; then nack what is still held
   * (Pub/Sub delivers it again, to another worker), and wait for the subscriptions to close and the last
   * acks and nacks to go out until `deadlines.release`. Default deadlines: options.shutdownTimeoutMs,
   * split as shutdown-budget.ts says.
   */
  stop(deadlines: StopDeadlines = planShutdown(this.#o.shutdownTimeoutMs)): Promise<WorkerStopReport> {
    this.#stopping ??= (async () => {
      const started = performance.now();
      const wasRunning = this.#state === 'running';
      this.#state = 'stopping';
      clearInterval(this.#timer);
      let flushed = true;
      let released = true;
      let abandonedMessages = 0;
      let abandonedWrites = 0;
      if (wasRunning) {
        // Stop pulling at once; the subscriptions let go once every delivered message is settled.
        const releasing = this.#source.close();
        flushed = (await deadlines.writes.race(this.flush())).status === 'done';
        if (!flushed) {
          // Out of time: hand back what is not durable yet. A write still running acks nothing when it ends (#settle).
          const left = [...this.#held];
          abandonedWrites = this.#inFlight.size;
          abandonedMessages = left.length;
          this.#settle(left, false);
          this.#log({ level: 'warn', event: 'stop_abandoned_writes', worker: this.id, abandonedMessages, abandonedWrites });
        }
        released = (await deadlines.release.race(Promise.all([releasing, this.#announcer?.close()]))).status === 'done';
      }
      this.#state = 'stopped';
      const report: WorkerStopReport = { flushed, abandonedMessages, abandonedWrites, released, tookMs: Math.round(performance.now() - started) };
      this.#log({ level: 'info', event: 'worker_stopped', worker: this.id, ...report, stats: this.stats() });
      return report;
    })();
    return this.#stopping;
  }

  stats(): WorkerStats {
    return this.#counters.snapshot();
  }

  #onMessage(m: InboundMessage): void {
    this.#counters.received(m.type, m.data.length);
    this.#held.add(m);
    stageStarted(m); // its span ends when it is settled (tracing.ts)
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
        this.#announcer?.announce({ type: file.type, key: outcome.manifestKey });
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
      // Handed back meanwhile (a stop out of time): its redelivery writes the rest.
      if (!this.#held.has(m)) return;
      if (verdict.split) {
        const noted = await this.#deadLetters.writeNote(m, verdict.reason, verdict.split, outcome.value).catch((error: unknown) => ({ ok: false as const, error }));
        if (!noted.ok) {
          this.#counters.writeFailed();
          this.#log({ level: 'error', event: 'dead_letter_note_failed', messageId: m.id, error: (noted.error as Error).message });
          this.#settle([m], false);
          return;
        }
        this.#announcer?.announce({ type: verdict.split.attributes.type, key: noted.value });
      }
      this.#counters.deadLettered(verdict.reason, verdict.typeDir);
      const kept = verdict.split?.kept ?? [];
      this.#log({ level: 'warn', event: 'dead_lettered', reason: verdict.reason, detail: verdict.detail, messageId: m.id, subscription: m.subscription, key: outcome.value, deadLetteredSeqs: verdict.split?.deadLettered, keptEvents: kept.reduce((n, k) => n + k.attributes.count, 0) });
      // The good records of a salvaged message are staged like any message, and acked with their file.
      if (!this.#held.has(m)) return;
      if (kept.length > 0) this.#stage(m, kept);
      else this.#settle([m], true);
    } finally {
      this.#counters.writeEnded();
    }
  }

  /** Acks or nacks the messages not settled yet (a write that ends after a stop gave up on it settles nothing). */
  #settle(messages: readonly InboundMessage[], ack: boolean): void {
    const held = messages.filter((m) => this.#held.delete(m));
    for (const m of held) {
      if (ack) m.ack();
      else m.nack();
      stageSettled(m, ack);
    }
    if (ack) this.#counters.acked(held.length);
    else this.#counters.nacked(held.length);
  }

  #track(task: Promise<void>): void {
    const tracked = task.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}
