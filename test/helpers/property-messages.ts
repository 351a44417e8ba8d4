// Test helper for the worker and checker property tests: generated events made into batch messages exactly as the SDK publishes them.
import fc from 'fast-check';
import type { SchemaVersion } from '../../services/registry/registry.ts';
import { EventEncoder } from '../../services/sdk/event-encoder.ts';
import { OpenBatch } from '../../services/sdk/open-batch.ts';
import { encodeBatchAttributes } from '../../services/wire/batch-attributes.ts';
import { CODEC_NAMES, compressBlock, type CodecName } from '../../services/wire/codecs.ts';
import { text, valueOf } from './avro-arbitraries.ts';

export interface EventSpec {
  readonly payload: Record<string, unknown>;
  /** Offset of its receive time from the start of the window (µs); sorted within a message. */
  readonly offsetUs: number;
  readonly eventId: string | undefined;
}

export interface MessageSpec {
  readonly version: SchemaVersion;
  readonly type: string;
  readonly publisher: string;
  readonly firstSeq: number;
  readonly events: readonly EventSpec[];
  readonly codec: CodecName;
  readonly window: number;
  readonly windowS: number;
}

export interface BuiltMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
  /** The delivered records, as written. */
  readonly records: Array<Record<string, unknown>>;
}

/** Events of one schema version, for a message: payloads with top-level strings up to `maxTopLevelBytes`, receive times in a window of `windowS`. */
export function eventsArb(version: SchemaVersion, o: { maxEvents: number; maxTopLevelBytes: number; windowS: number }): fc.Arbitrary<EventSpec[]> {
  return fc
    .array(
      fc.record({
        payload: valueOf(version.payloadType, { maxTopLevelBytes: o.maxTopLevelBytes }) as fc.Arbitrary<Record<string, unknown>>,
        offsetUs: fc.integer({ min: 0, max: o.windowS * 1_000_000 - 1 }),
        // A client id on one event in four: messages without any take the paths that copy blocks whole.
        eventId: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: text(30, 1) }),
      }),
      { minLength: 1, maxLength: o.maxEvents },
    )
    .map((events) => [...events].sort((a, b) => a.offsetUs - b.offsetUs));
}

export const codecArb: fc.Arbitrary<CodecName> = fc.constantFrom(...CODEC_NAMES);

/** The message the SDK would publish for these events: a batch appended, sealed and compressed, with its attributes. */
export function sdkMessage(m: MessageSpec): BuiltMessage {
  const encoder = new EventEncoder(m.version, m.publisher);
  const batch = new OpenBatch(m.type, m.version.version, m.window, m.firstSeq, 1024, 0);
  const startUs = m.window * m.windowS * 1_000_000;
  const records = m.events.map((e, i) => {
    const seq = m.firstSeq + i;
    const receiveUs = startUs + e.offsetUs;
    encoder.append(batch.sink, e.payload, seq, receiveUs, e.eventId);
    batch.noteEvent(receiveUs, e.eventId !== undefined);
    return { event_id: e.eventId ?? `${m.publisher}-${seq}`, receive_time: receiveUs, publisher: m.publisher, seq, ...e.payload };
  });
  const sealed = batch.seal(m.codec);
  const attributes = encodeBatchAttributes({
    type: m.type,
    version: m.version.version,
    publisher: m.publisher,
    firstSeq: m.firstSeq,
    count: sealed.count,
    window: m.window,
    windowS: m.windowS,
    codec: m.codec,
    minReceiveUs: sealed.minReceiveUs,
    maxReceiveUs: sealed.maxReceiveUs,
    clientIds: sealed.clientIds,
  });
  return { data: compressBlock(m.codec, sealed.datums), attributes, records };
}
