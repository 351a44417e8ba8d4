// The hourglass publisher SDK: validates, stamps, sequences and batches events, and resolves only once Pub/Sub has them.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { HourglassError } from '../errors/catalogue.ts';
import type { SchemaVersion } from '../registry/registry.ts';
import { MonotonicStamper } from '../time/clock.ts';
import { encodeBatchAttributes } from '../wire/batch-attributes.ts';
import { compressBlock } from '../wire/codecs.ts';
import { encodeHeartbeat, type Heartbeat, type TypeProgress } from '../wire/heartbeat.ts';
import { topicNames, type TopicNames } from '../wire/topics.ts';
import { windowEndUs, windowOf } from '../wire/window.ts';
import { tracePublish } from '../telemetry/tracing.ts';
import { AckTracker } from './ack-tracker.ts';
import { AdaptiveLinger, waitObservation } from './adaptive-linger.ts';
import { validateEventId, validatePayload, type FieldProblem } from '../registry/payload-validator.ts';
import { EventEncoder } from './event-encoder.ts';
import { assertEventIdScope, scopeEventId, validateScopedEventId } from './event-id-scope.ts';
import { MessageSender } from './message-sender.ts';
import { OpenBatch, type SealedBatch } from './open-batch.ts';
import { PublisherMetrics } from './publisher-metrics.ts';
import { resolvePublisherOptions, type PublisherOptions, type ResolvedPublisherOptions } from './publisher-options.ts';

export interface PublishOptions {
  /**
   * Client event id: duplicates of it within a window are dropped at close (for client retries). Delivered
   * scoped by the publisher's origin, as "<origin>:<eventId>" (at most 256 characters in all).
   */
  readonly eventId?: string;
  /** Schema version to validate and encode with. Default: the newest. */
  readonly version?: number;
}

export interface PublishItem {
  readonly payload: object;
  readonly eventId?: string;
}

export interface PublishManyOptions {
  /** Schema version to validate and encode with. Default: the newest. */
  readonly version?: number;
  /**
   * Who sent these items: their client event ids are delivered as "<scope>:<eventId>" and de-duplicated only
   * against the same scope's. Default: the publisher's origin. The gateway passes the authenticated client.
   */
  readonly eventIdScope?: string;
}

export interface CloseOptions {
  /**
   * Longest close() may take (ms). When it runs out first, close() rejects with HG_CLOSE_TIMEOUT, whose details
   * count the events Pub/Sub has not acknowledged: treat them as not sent. The close goes on in the background
   * (their publish() promises still settle: resolved if Pub/Sub acknowledges them, rejected at the publish
   * deadline). 0 waits for nothing. Default: no limit of its own (each message is bounded by publishDeadlineMs).
   */
  readonly timeoutMs?: number;
}

/** The details of an HG_CLOSE_TIMEOUT error. */
export interface CloseTimeoutDetails {
  readonly timeoutMs: number;
  /** Events accepted or held by publish() whose message Pub/Sub has not acknowledged (nor failed for good). */
  readonly unacknowledgedEvents: number;
  /** The same, per event type. */
  readonly types: Readonly<Record<string, number>>;
  /** Messages sent and not yet answered. */
  readonly inFlightMessages: number;
  /** False: the pipeline learns of the publisher's end from its missing heartbeats instead. */
  readonly finalHeartbeatSent: boolean;
}

export interface InvalidEvent extends FieldProblem {
  /** Index of the event in a publishMany call. */
  readonly index: number;
}

export interface PublisherStats {
  /** Bytes of events accepted and not yet acknowledged by Pub/Sub. */
  readonly bufferedBytes: number;
  readonly peakBufferedBytes: number;
  readonly bufferedEvents: number;
  readonly inFlightMessages: number;
  readonly acceptedEvents: number;
  readonly acknowledgedEvents: number;
  readonly failedEvents: number;
  readonly failedAttempts: number;
  readonly heartbeatsSent: number;
}

/** How long Pub/Sub may keep failing before the publisher reports itself unhealthy (ms). */
const UNHEALTHY_AFTER_MS = 2000;
/** The boundary heartbeat fires this long after a window's end, so its stamp is surely past the end (ms). */
const BOUNDARY_SLACK_MS = 5;

export class Publisher {
  readonly id: string;
  readonly #o: ResolvedPublisherOptions;
  readonly #names: TopicNames;
  readonly #stamper: MonotonicStamper;
  readonly #startedUs: number;
  readonly #sender: MessageSender;
  readonly #acks = new AckTracker();
  readonly #nextSeq = new Map<string, number>();
  readonly #open = new Map<string, OpenBatch>();
  readonly #encoders = new Map<string, EventEncoder>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #capacityWaiters: Array<() => void> = [];
  readonly #heartbeatTimer: NodeJS.Timeout;
  #boundaryTimer: NodeJS.Timeout | undefined;
  /** The window of the last boundary heartbeat: one per window end. */
  #boundaryWindow: number;
  readonly #metrics: PublisherMetrics;
  /** The default linger's per-type state; undefined with a fixed lingerMs. */
  readonly #adaptive: AdaptiveLinger | undefined;
  /** Events whose publish() waits for registration, per type: not accepted yet, not acknowledged either. */
  readonly #held = new Map<string, number>();
  #closing: Promise<void> | undefined;
  /** True once close() finished: flushed and the final heartbeat acknowledged. */
  #closed = false;
  /** True once Pub/Sub acknowledged a heartbeat of this publisher: from then on the checker can learn of it. */
  #registered = false;
  /** The wait for registration that held calls share (one timer, however many calls wait). */
  #registration: { promise: Promise<void>; resolve: () => void } | undefined;
  #failingSinceMs: number | undefined;
  #stats = {
    bufferedBytes: 0,
    peakBufferedBytes: 0,
    bufferedEvents: 0,
    inFlightMessages: 0,
    acceptedEvents: 0,
    acknowledgedEvents: 0,
    failedEvents: 0,
    failedAttempts: 0,
    heartbeatsSent: 0,
  };

  constructor(options: PublisherOptions) {
    this.#o = resolvePublisherOptions(options);
    this.id = this.#o.publisherId ?? `${this.#o.origin.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)}-${randomUUID()}`;
    this.#names = topicNames(this.#o.topicPrefix);
    this.#adaptive = this.#o.lingerMs === undefined ? new AdaptiveLinger(this.#o) : undefined;
    this.#stamper = new MonotonicStamper(this.#o.clock);
    this.#startedUs = this.#stamper.stamp();
    this.#sender = new MessageSender(this.#o.pubsub, this.#o, {
      onAttemptFailed: () => {
        this.#stats.failedAttempts++;
        this.#failingSinceMs ??= Date.now();
      },
      onSent: () => {
        this.#failingSinceMs = undefined;
      },
    });
    this.#metrics = new PublisherMetrics(this.id, () => ({ bytes: this.#stats.bufferedBytes, events: this.#stats.bufferedEvents }));
    this.#heartbeatTimer = setInterval(() => void this.#sendHeartbeat(false).catch(() => undefined), this.#o.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
    this.#boundaryWindow = windowOf(this.#startedUs, this.#o.windowLengthS);
    this.#scheduleBoundaryHeartbeat();
    // An immediate first heartbeat tells the checker this publisher exists and when it started. No event is
    // stamped before a heartbeat is acknowledged (see #whenRegistered), so the checker can always learn of a
    // publisher from a control message published before any of its events' windows ended.
    void this.#sendHeartbeat(false).catch(() => undefined);
  }

  /**
   * Resolves once Pub/Sub acknowledged a heartbeat of this publisher: from then on publish() stamps at once.
   * Before, calls are held (and stamped when it resolves). Rejects with HG_PUBSUB_UNAVAILABLE past the publish deadline.
   */
  ready(): Promise<void> {
    return this.#whenRegistered();
  }

  /** Publishes one event. Resolves when Pub/Sub acknowledged the message holding it. */
  publish(type: string, payload: object, options: PublishOptions = {}): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    let version: SchemaVersion;
    try {
      version = this.#version(type, options.version);
      const problems = [...validatePayload(version, payload), ...validateEventId(options.eventId), ...validateScopedEventId(this.#o.origin, options.eventId)];
      if (problems.length > 0) throw invalidEvents(type, problems.map((p) => ({ ...p, index: 0 })));
    } catch (err) {
      return Promise.reject(err);
    }
    const eventId = scopeEventId(this.#o.origin, options.eventId);
    if (!this.#registered) return this.#holding(type, 1, this.#whenRegistered()).then(() => this.#publishValidated(type, version, payload, eventId));
    return this.#publishValidated(type, version, payload, eventId);
  }

  /** Appends a validated event once the buffer has room; a call still waiting for room when close() starts is refused. */
  #publishValidated(type: string, version: SchemaVersion, payload: object, eventId: string | undefined): Promise<void> {
    if (this.wouldBlock()) {
      return this.#whenCapacity().then(() => (this.#closing ? Promise.reject(closedError()) : this.#publishValidated(type, version, payload, eventId)));
    }
    try {
      return this.#append(type, version, payload, eventId);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Publishes several events of one type, all or nothing: if any is invalid, none is accepted and the
   * error lists every invalid event by index. Resolves when Pub/Sub acknowledged all of them.
   */
  async publishMany(type: string, items: readonly PublishItem[], options: PublishManyOptions = {}): Promise<void> {
    if (this.#closing) throw closedError();
    const version = this.#version(type, options.version);
    const scope = options.eventIdScope ?? this.#o.origin;
    if (options.eventIdScope !== undefined) assertEventIdScope(scope, 'publishMany eventIdScope');
    const problems: InvalidEvent[] = [];
    items.forEach((item, index) => {
      for (const p of [...validatePayload(version, item.payload), ...validateEventId(item.eventId), ...validateScopedEventId(scope, item.eventId)]) problems.push({ ...p, index });
    });
    if (problems.length > 0) throw invalidEvents(type, problems);
    if (!this.#registered) await this.#holding(type, items.length, this.#whenRegistered());
    items.forEach((item, index) => {
      // Checked before anything is accepted, so a too-large event refuses the whole call.
      const bytes = version.payloadType.toBuffer(item.payload).length;
      if (bytes > this.#o.maxEventBytes) {
        throw new HourglassError('HG_EVENT_TOO_LARGE', `event ${index} of type "${type}" is ${bytes} bytes encoded; the limit is ${this.#o.maxEventBytes}`, {
          details: { index, bytes, limit: this.#o.maxEventBytes },
        });
      }
    });
    if (this.wouldBlock()) {
      await this.#whenCapacity();
      if (this.#closing) throw closedError();
    }
    const outcomes = new Set<Promise<void>>();
    for (const item of items) outcomes.add(this.#append(type, version, item.payload, scopeEventId(scope, item.eventId)));
    await Promise.all(outcomes);
  }

  /** Sends every open batch and waits until every message sent so far is settled. */
  async flush(): Promise<void> {
    for (const batch of [...this.#open.values()]) this.#seal(batch);
    await Promise.allSettled([...this.#inFlight]);
    await this.#sender.flush();
  }

  /**
   * Flushes, sends the final heartbeat and stops timers. Idempotent (every call shares one close); later publishes
   * are refused. With `timeoutMs`, rejects with HG_CLOSE_TIMEOUT once that time has passed (see CloseOptions).
   */
  close(options: CloseOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(new HourglassError('HG_CONFIG_INVALID', `close(): timeoutMs must be a number ≥ 0, got ${timeoutMs}`));
    }
    this.#closing ??= (async () => {
      // Calls made before close() and still waiting for registration are appended first (or have failed).
      if (!this.#registered) await this.#whenRegistered().catch(() => undefined);
      clearInterval(this.#heartbeatTimer);
      clearTimeout(this.#boundaryTimer);
      for (const wake of this.#capacityWaiters.splice(0)) wake();
      await this.flush();
      await this.#sendHeartbeat(true);
      this.#metrics.close();
      this.#closed = true;
    })();
    const closing = this.#closing;
    if (timeoutMs === undefined || this.#closed) return closing;
    if (timeoutMs === 0) {
      closing.catch(() => undefined); // its outcome goes to later close() calls; not an unhandled rejection
      return Promise.reject(this.#closeTimeout(0));
    }
    return new Promise<void>((resolve, reject) => {
      // Not unref()ed: the caller asked for an answer within timeoutMs, and gets one.
      const timer = setTimeout(() => (this.#closed ? resolve() : reject(this.#closeTimeout(timeoutMs))), timeoutMs);
      closing.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** True while the buffer is full: publish() would wait. */
  wouldBlock(): boolean {
    return this.#stats.bufferedBytes >= this.#o.maxBufferedBytes;
  }

  /** False while Pub/Sub has kept failing for a while. */
  isHealthy(): boolean {
    return this.#failingSinceMs === undefined || Date.now() - this.#failingSinceMs < UNHEALTHY_AFTER_MS;
  }

  stats(): PublisherStats {
    return { ...this.#stats };
  }

  /** What a close that ran out of time leaves unacknowledged. */
  #closeTimeout(timeoutMs: number): HourglassError {
    const types: Record<string, number> = {};
    const add = (type: string, n: number) => {
      if (n > 0) types[type] = (types[type] ?? 0) + n;
    };
    for (const [type, n] of this.#held) add(type, n);
    for (const [type, n] of this.#acks.pendingEvents()) add(type, n);
    for (const batch of this.#open.values()) add(batch.type, batch.count);
    const unacknowledgedEvents = Object.values(types).reduce((a, b) => a + b, 0);
    const details: CloseTimeoutDetails = { timeoutMs, unacknowledgedEvents, types, inFlightMessages: this.#stats.inFlightMessages, finalHeartbeatSent: false };
    const list = Object.entries(types).map(([type, n]) => `${type}: ${n}`).join(', ');
    return new HourglassError(
      'HG_CLOSE_TIMEOUT',
      `close() did not finish within ${timeoutMs} ms: ${unacknowledgedEvents} event(s) not acknowledged by Pub/Sub${list ? ` (${list})` : ''}; treat them as not sent. ` +
        'The final heartbeat was not sent. The close goes on in the background; each publish() promise still settles.',
      { details },
    );
  }

  /** Counts `n` events of `type` as held while `registration` is pending. */
  #holding(type: string, n: number, registration: Promise<void>): Promise<void> {
    this.#held.set(type, (this.#held.get(type) ?? 0) + n);
    return registration.finally(() => {
      const left = this.#held.get(type)! - n;
      if (left > 0) this.#held.set(type, left);
      else this.#held.delete(type);
    });
  }

  #version(type: string, version: number | undefined): SchemaVersion {
    return version === undefined ? this.#o.registry.require(type).latest : this.#o.registry.version(type, version);
  }

  #encoder(version: SchemaVersion, type: string): EventEncoder {
    const key = `${type}:${version.version}`;
    let encoder = this.#encoders.get(key);
    if (!encoder) this.#encoders.set(key, (encoder = new EventEncoder(version, this.id)));
    return encoder;
  }

  /** Stamps, sequences and appends one validated event; returns its batch's outcome. Synchronous on purpose. */
  #append(type: string, version: SchemaVersion, payload: object, eventId: string | undefined): Promise<void> {
    const receiveUs = this.#stamper.stamp();
    const window = windowOf(receiveUs, this.#o.windowLengthS);
    let batch = this.#open.get(type);
    if (batch && !batch.accepts(version.version, window)) {
      this.#seal(batch);
      batch = undefined;
    }
    const seq = this.#nextSeq.get(type) ?? 0;
    if (!batch) {
      batch = new OpenBatch(type, version.version, window, seq, Math.min(this.#o.maxBatchBytes, 64 * 1024), Date.now());
      this.#open.set(type, batch);
      const opened = batch;
      let lingerMs = this.#o.lingerMs;
      if (lingerMs === undefined) {
        lingerMs = this.#adaptive!.lingerMs(type, performance.now());
        // The end of the opening tick: what was appended by then came whether or not the batch waits.
        setImmediate(() => opened.mark(performance.now()));
      }
      // Not unref()ed: a short script that awaits publish() must not exit before its batch is sent.
      setTimeout(() => this.#open.get(type) === opened && this.#seal(opened), lingerMs);
    }
    const bytes = this.#encoder(version, type).append(batch.sink, payload, seq, receiveUs, eventId);
    if (bytes > this.#o.maxEventBytes) {
      batch.sink.length -= bytes;
      if (batch.count === 0) this.#open.delete(type);
      throw new HourglassError('HG_EVENT_TOO_LARGE', `event of type "${type}" is ${bytes} bytes encoded; the limit is ${this.#o.maxEventBytes}`, {
        details: { index: 0, bytes, limit: this.#o.maxEventBytes },
      });
    }
    this.#nextSeq.set(type, seq + 1);
    batch.noteEvent(receiveUs, eventId !== undefined);
    this.#stats.acceptedEvents++;
    this.#metrics.accepted(type, 1);
    this.#stats.bufferedEvents++;
    this.#stats.bufferedBytes += bytes;
    if (this.#stats.bufferedBytes > this.#stats.peakBufferedBytes) this.#stats.peakBufferedBytes = this.#stats.bufferedBytes;
    const outcome = batch.outcome.promise;
    if (batch.count >= this.#o.maxBatchEvents || batch.sink.length >= this.#o.maxBatchBytes) this.#seal(batch);
    return outcome;
  }

  #seal(batch: OpenBatch): void {
    if (this.#open.get(batch.type) === batch) this.#open.delete(batch.type);
    if (batch.count === 0) return;
    if (this.#adaptive) {
      const nowMs = performance.now();
      this.#adaptive.sealed(batch.type, waitObservation(batch.count, batch.markCount, batch.markAtMs, nowMs), batch.count, batch.sink.length, nowMs);
    }
    const sealed = batch.seal(this.#o.codec);
    this.#acks.begin(sealed.type, sealed.firstSeq, sealed.count);
    this.#stats.inFlightMessages++;
    const sending = this.#send(sealed).then(
      () => {
        this.#acks.settle(sealed.type, sealed.firstSeq, true);
        this.#stats.acknowledgedEvents += sealed.count;
        this.#metrics.settled(sealed.type, sealed.count, true, Date.now() - batch.openedAtMs);
        batch.outcome.resolve();
      },
      (err: unknown) => {
        this.#acks.settle(sealed.type, sealed.firstSeq, false);
        this.#stats.failedEvents += sealed.count;
        this.#metrics.settled(sealed.type, sealed.count, false, Date.now() - batch.openedAtMs);
        batch.outcome.reject(err);
      },
    );
    const tracked = sending.finally(() => {
      this.#inFlight.delete(tracked);
      this.#stats.inFlightMessages--;
      this.#stats.bufferedEvents -= sealed.count;
      this.#stats.bufferedBytes -= sealed.datums.length;
      this.#wakeWaiters();
    });
    this.#inFlight.add(tracked);
  }

  async #send(batch: SealedBatch): Promise<void> {
    const data = compressBlock(batch.codec, batch.datums);
    const attributes = encodeBatchAttributes({
      type: batch.type,
      version: batch.version,
      publisher: this.id,
      firstSeq: batch.firstSeq,
      count: batch.count,
      window: batch.window,
      windowS: this.#o.windowLengthS,
      codec: batch.codec,
      minReceiveUs: batch.minReceiveUs,
      maxReceiveUs: batch.maxReceiveUs,
      clientIds: batch.clientIds,
    });
    const topic = this.#names.eventTopic(batch.type);
    // A span per batch message; with tracing on, the message carries its traceparent to the worker (tracing.ts).
    const identity = { type: batch.type, publisher: this.id, firstSeq: batch.firstSeq, count: batch.count, window: batch.window };
    await tracePublish(identity, topic, attributes, (traced) => this.#sender.send(topic, data, traced));
  }

  /**
   * Waits until a heartbeat of this publisher is acknowledged (the first one is sent at construction, then one
   * every heartbeatIntervalMs). The calls waiting share one wait, which fails with HG_PUBSUB_UNAVAILABLE once it
   * has lasted the publish deadline; a later call starts a new one.
   */
  #whenRegistered(): Promise<void> {
    if (this.#registered) return Promise.resolve();
    if (!this.#registration) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const timer = setTimeout(() => {
        this.#registration = undefined;
        reject(
          new HourglassError(
            'HG_PUBSUB_UNAVAILABLE',
            `Pub/Sub did not accept this publisher's first heartbeat (to ${this.#names.controlTopic}) within ${this.#o.publishDeadlineMs} ms; no event is accepted before it is`,
          ),
        );
      }, this.#o.publishDeadlineMs);
      this.#registration = {
        promise,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    }
    return this.#registration.promise;
  }

  #whenCapacity(): Promise<void> {
    return new Promise((resolve) => this.#capacityWaiters.push(resolve));
  }

  #wakeWaiters(): void {
    while (this.#capacityWaiters.length > 0 && !this.wouldBlock()) this.#capacityWaiters.shift()!();
  }

  /**
   * A window's end is when the checker needs this publisher's word: right after it, seal the batches of
   * the ended window and send a heartbeat, instead of leaving the close to wait for the next periodic one.
   * That heartbeat's ackedBelow cannot cover batches still in flight (and the ones it just sealed are), so
   * once every batch in flight then has settled, one more heartbeat says so: a close never waits for the
   * periodic heartbeat, whose interval is then only how soon a dead publisher is noticed.
   */
  #scheduleBoundaryHeartbeat(): void {
    const nowUs = this.#o.clock.nowUs();
    const dueMs = (windowEndUs(windowOf(nowUs, this.#o.windowLengthS), this.#o.windowLengthS) - nowUs) / 1000 + BOUNDARY_SLACK_MS;
    this.#boundaryTimer = setTimeout(() => {
      const window = windowOf(this.#o.clock.nowUs(), this.#o.windowLengthS);
      // A clock that did not move (a test clock) gets no extra heartbeats.
      if (window > this.#boundaryWindow) {
        this.#boundaryWindow = window;
        for (const batch of [...this.#open.values()]) if (batch.window < window) this.#seal(batch);
        const inFlight = [...this.#inFlight];
        void this.#sendHeartbeat(false).catch(() => undefined);
        if (inFlight.length > 0) {
          void Promise.allSettled(inFlight).then(() => (this.#closing ? undefined : this.#sendHeartbeat(false).catch(() => undefined)));
        }
      }
      this.#scheduleBoundaryHeartbeat();
    }, Math.max(BOUNDARY_SLACK_MS, dueMs));
    this.#boundaryTimer.unref();
  }

  /** Builds and sends a heartbeat; the time and next seqs are read in the same tick (see wire/heartbeat.ts). */
  async #sendHeartbeat(final: boolean): Promise<void> {
    const types: Record<string, TypeProgress & { failed?: ReadonlyArray<readonly [number, number]> }> = {};
    for (const [type, nextSeq] of this.#nextSeq) {
      const failed = this.#acks.failedRanges(type);
      types[type] = { nextSeq, ackedBelow: Math.min(nextSeq, this.#acks.ackedBelow(type)), ...(failed.length > 0 ? { failed } : {}) };
    }
    const heartbeat: Heartbeat = {
      publisher: this.id,
      timeUs: this.#stamper.stamp(),
      startedUs: this.#startedUs,
      final,
      windowS: this.#o.windowLengthS,
      types,
      origin: `${this.#o.origin}@${os.hostname()}`,
    };
    await this.#sender.send(this.#names.controlTopic, encodeHeartbeat(heartbeat), { kind: 'heartbeat', publisher: this.id });
    this.#stats.heartbeatsSent++;
    if (!this.#registered) {
      this.#registered = true;
      this.#registration?.resolve();
      this.#registration = undefined;
    }
  }
}

function closedError(): HourglassError {
  return new HourglassError('HG_PUBLISHER_CLOSED', 'publisher is closed: publish() after close() is refused');
}

function invalidEvents(type: string, problems: InvalidEvent[]): HourglassError {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new HourglassError(
    'HG_INVALID_EVENT',
    `invalid ${type} event ${first.index}: ${first.path ? `field "${first.path}" ` : ''}${first.message}${more}`,
    { details: problems },
  );
}
