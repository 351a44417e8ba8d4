// One batch being filled: events of one type, one schema version and one window, with contiguous seqs.
import type { CodecName } from '../wire/codecs.ts';
import { ByteSink } from './event-encoder.ts';

export interface SealedBatch {
  readonly type: string;
  readonly version: number;
  readonly window: number;
  readonly firstSeq: number;
  readonly count: number;
  readonly minReceiveUs: number;
  readonly maxReceiveUs: number;
  readonly clientIds: boolean;
  /** Uncompressed datums, back to back. */
  readonly datums: Buffer;
  readonly codec: CodecName;
}

/** A deferred promise shared by every event in a batch: one allocation per batch, not per event. */
export class BatchOutcome {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Callers may drop the promise (fire-and-forget publish); the rejection is still counted elsewhere.
    this.promise.catch(() => undefined);
  }
}

export class OpenBatch {
  readonly type: string;
  readonly version: number;
  readonly window: number;
  readonly firstSeq: number;
  readonly openedAtMs: number;
  readonly sink: ByteSink;
  readonly outcome = new BatchOutcome();
  count = 0;
  minReceiveUs = 0;
  maxReceiveUs = 0;
  clientIds = false;
  /** Events appended by the end of the tick that opened the batch, and when that was (ms, performance.now()); see adaptive-linger.ts. */
  markCount = 0;
  markAtMs: number | undefined;

  constructor(type: string, version: number, window: number, firstSeq: number, initialBytes: number, openedAtMs: number) {
    this.type = type;
    this.version = version;
    this.window = window;
    this.firstSeq = firstSeq;
    this.sink = new ByteSink(initialBytes);
    this.openedAtMs = openedAtMs;
  }

  /** True when an event stamped in `window` with `version` may join this batch. */
  accepts(version: number, window: number): boolean {
    return version === this.version && window === this.window;
  }

  /** Notes the end of the opening tick (the first call counts). */
  mark(nowMs: number): void {
    if (this.markAtMs !== undefined) return;
    this.markAtMs = nowMs;
    this.markCount = this.count;
  }

  noteEvent(receiveUs: number, hasClientId: boolean): void {
    if (this.count === 0) this.minReceiveUs = receiveUs;
    this.maxReceiveUs = receiveUs;
    this.count++;
    if (hasClientId) this.clientIds = true;
  }

  seal(codec: CodecName): SealedBatch {
    return {
      type: this.type,
      version: this.version,
      window: this.window,
      firstSeq: this.firstSeq,
      count: this.count,
      minReceiveUs: this.minReceiveUs,
      maxReceiveUs: this.maxReceiveUs,
      clientIds: this.clientIds,
      datums: this.sink.bytes(),
      codec,
    };
  }
}
