// The worker's counters: a plain snapshot for worker.stats() and tests, mirrored to OpenTelemetry instruments (no-ops until an SDK is registered).
import { metrics, type Attributes, type Counter } from '@opentelemetry/api';
import { DEAD_LETTER_REASONS, UNKNOWN_TYPE_DIR, type DeadLetterReason } from './message-validator.ts';

export interface WorkerStats {
  /** Deliveries received (a redelivery counts again). */
  readonly receivedMessages: number;
  readonly receivedBytes: number;
  /** Messages and events written to durable staging files (with their manifests). */
  readonly stagedMessages: number;
  readonly stagedEvents: number;
  readonly stagedFiles: number;
  readonly stagedBytes: number;
  /** Messages written to the dead-letter area, by reason. */
  readonly deadLettered: Readonly<Record<DeadLetterReason, number>>;
  /** Write attempts that failed and were retried (staging files, manifests and dead letters). */
  readonly writeRetries: number;
  /** Writes given up on after retrying; their messages were nacked. */
  readonly writeFailures: number;
  readonly acks: number;
  readonly nacks: number;
  /** Streaming-pull errors reported by the source. */
  readonly sourceErrors: number;
  /** Bytes of accepted message bodies held in open staging files and in files being written. */
  readonly bufferedBytes: number;
  readonly peakBufferedBytes: number;
  /** Messages received and not yet acked or nacked. */
  readonly heldMessages: number;
  /** Staging files and dead letters being written. */
  readonly writesInFlight: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Counts everything once, both as numbers and as OpenTelemetry metrics under meter "hourglass-worker". */
export class WorkerCounters {
  readonly #s: Mutable<Omit<WorkerStats, 'deadLettered'>> = {
    receivedMessages: 0,
    receivedBytes: 0,
    stagedMessages: 0,
    stagedEvents: 0,
    stagedFiles: 0,
    stagedBytes: 0,
    writeRetries: 0,
    writeFailures: 0,
    acks: 0,
    nacks: 0,
    sourceErrors: 0,
    bufferedBytes: 0,
    peakBufferedBytes: 0,
    heldMessages: 0,
    writesInFlight: 0,
  };
  readonly #deadLettered = Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, 0])) as Record<DeadLetterReason, number>;
  /** The types of the subscriptions messages came from: registry types, the only values a type label may take. */
  readonly #types = new Set<string>();
  readonly #otel: Record<'received' | 'receivedBytes' | 'stagedEvents' | 'stagedFiles' | 'stagedBytes' | 'deadLettered' | 'writeRetries' | 'writeFailures' | 'acks' | 'nacks', Counter>;

  constructor() {
    const meter = metrics.getMeter('hourglass-worker');
    // Units: UCUM, a count's thing in braces ({message}), as the OpenTelemetry semantic conventions write them.
    const counter = (name: string, description: string, unit: string) => meter.createCounter(`hourglass.worker.${name}`, { description, unit });
    this.#otel = {
      received: counter('messages_received', 'Pub/Sub deliveries received', '{message}'),
      receivedBytes: counter('bytes_received', 'Bytes of message data received', 'By'),
      stagedEvents: counter('events_staged', 'Events written to durable staging files', '{event}'),
      stagedFiles: counter('files_staged', 'Staging files made durable (file and manifest)', '{file}'),
      stagedBytes: counter('bytes_staged', 'Bytes of staging files made durable', 'By'),
      deadLettered: counter('messages_dead_lettered', 'Messages written to the dead-letter area, by reason and type ("_unknown" when not a type this worker pulls)', '{message}'),
      writeRetries: counter('write_retries', 'Storage writes retried', '{write}'),
      writeFailures: counter('write_failures', 'Storage writes given up on (their messages were nacked)', '{write}'),
      acks: counter('acks', 'Messages acknowledged', '{message}'),
      nacks: counter('nacks', 'Messages handed back for redelivery', '{message}'),
    };
    const buffered = meter.createObservableGauge('hourglass.worker.buffered_bytes', { description: 'Bytes held in open and in-flight staging files', unit: 'By' });
    buffered.addCallback((result) => result.observe(this.#s.bufferedBytes));
  }

  received(type: string, bytes: number): void {
    this.#s.receivedMessages++;
    this.#s.receivedBytes += bytes;
    this.#s.heldMessages++;
    this.#types.add(type);
    const attrs: Attributes = { type };
    this.#otel.received.add(1, attrs);
    this.#otel.receivedBytes.add(bytes, attrs);
  }

  buffered(deltaBytes: number): void {
    this.#s.bufferedBytes += deltaBytes;
    if (this.#s.bufferedBytes > this.#s.peakBufferedBytes) this.#s.peakBufferedBytes = this.#s.bufferedBytes;
  }

  get bufferedBytes(): number {
    return this.#s.bufferedBytes;
  }

  writeStarted(): void {
    this.#s.writesInFlight++;
  }

  writeEnded(): void {
    this.#s.writesInFlight--;
  }

  staged(type: string, messages: number, events: number, bytes: number): void {
    this.#s.stagedFiles++;
    this.#s.stagedMessages += messages;
    this.#s.stagedEvents += events;
    this.#s.stagedBytes += bytes;
    const attrs: Attributes = { type };
    this.#otel.stagedFiles.add(1, attrs);
    this.#otel.stagedEvents.add(events, attrs);
    this.#otel.stagedBytes.add(bytes, attrs);
  }

  /** `typeDir` comes from the message's attributes: any valid type name, so only a type this worker receives becomes a label. */
  deadLettered(reason: DeadLetterReason, typeDir: string): void {
    this.#deadLettered[reason]++;
    this.#otel.deadLettered.add(1, { reason, type: this.#types.has(typeDir) ? typeDir : UNKNOWN_TYPE_DIR });
  }

  writeRetried(): void {
    this.#s.writeRetries++;
    this.#otel.writeRetries.add(1);
  }

  writeFailed(): void {
    this.#s.writeFailures++;
    this.#otel.writeFailures.add(1);
  }

  acked(n: number): void {
    this.#s.acks += n;
    this.#s.heldMessages -= n;
    this.#otel.acks.add(n);
  }

  nacked(n: number): void {
    this.#s.nacks += n;
    this.#s.heldMessages -= n;
    this.#otel.nacks.add(n);
  }

  sourceError(): void {
    this.#s.sourceErrors++;
  }

  snapshot(): WorkerStats {
    return { ...this.#s, deadLettered: { ...this.#deadLettered } };
  }
}
