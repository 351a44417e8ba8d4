// Properties of SDK batches (EventEncoder.append, ByteSink, OpenBatch, the codecs), run in a worker with a deadline by event-encoder.property.test.ts.
//
// For random buffer states (initial sizes from 0, random bytes already written, nearly full),
// payloads of every Avro type with strings from empty to past a megabyte over every Unicode plane,
// random seqs, receive times and client ids: every append returns, the bytes already in the buffer
// stay, each record is byte for byte what fastavro encodes for it, and the sealed batch compressed
// with every codec decodes in fastavro (with Python's own codec libraries) to exactly the events.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SchemaVersion } from '../../services/registry/registry.ts';
import { ByteSink, EventEncoder } from '../../services/sdk/event-encoder.ts';
import { OpenBatch } from '../../services/sdk/open-batch.ts';
import { CODEC_NAMES, compressBlock, decompressBlock } from '../../services/wire/codecs.ts';
import { anyLong, asOracleSees, MAX_AVSC_LONG, PROPERTY_SEED, text, valueOf, propertyParameters } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { loadPropertyRegistry } from '../helpers/property-registry.ts';

const TYPES = ['search_performed', 'track_played', 'ui_interaction', 'everything'];
const MAX_EVENTS = 8;

interface EventCase {
  readonly payload: Record<string, unknown>;
  readonly receiveUs: number;
  readonly eventId: string | undefined;
}

interface BatchCase {
  readonly typeName: string;
  readonly publisher: string;
  readonly firstSeq: number;
  readonly initialBytes: number;
  /** Bytes already in the sink: counted back from its initial size, or absolute. */
  readonly fill: { readonly fromEnd: number } | { readonly bytes: number };
  readonly fillSeed: number;
  readonly events: readonly EventCase[];
}

/** Seqs anywhere in avsc's long range, and where their decimal length changes. */
const seqArb = fc.oneof(
  fc.nat(1000),
  fc.integer({ min: 0, max: MAX_AVSC_LONG - MAX_EVENTS }),
  fc.integer({ min: 1, max: 15 }).map((k) => 10 ** k - 3),
);

function caseArb(versions: ReadonlyMap<string, SchemaVersion>): fc.Arbitrary<BatchCase> {
  return fc.tuple(fc.constantFrom(...TYPES), fc.constantFrom('small', 'small', 'small', 'large')).chain(([typeName, scale]) => {
    const large = scale === 'large';
    const payload = valueOf(versions.get(typeName)!.payloadType, { maxTopLevelBytes: large ? 1_200_000 : 3000, largeWeight: large ? 3 : 1 });
    return fc.record({
      typeName: fc.constant(typeName),
      publisher: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,100}$/),
      firstSeq: seqArb,
      initialBytes: fc.oneof(fc.constantFrom(0, 1, 64 * 1024), fc.integer({ min: 0, max: 70_000 })),
      fill: fc.oneof(fc.integer({ min: 0, max: 1500 }).map((fromEnd) => ({ fromEnd })), fc.integer({ min: 0, max: 70_000 }).map((bytes) => ({ bytes }))),
      fillSeed: fc.integer({ min: 0, max: 255 }),
      events: fc.array(
        fc.record({
          payload: payload as fc.Arbitrary<Record<string, unknown>>,
          receiveUs: fc.oneof(fc.integer({ min: 1_700_000_000_000_000, max: 1_900_000_000_000_000 }), anyLong),
          eventId: fc.option(text(100, 1), { nil: undefined }),
        }),
        { minLength: 1, maxLength: large ? 2 : MAX_EVENTS },
      ),
    });
  });
}

/** The delivered record of event `i` of the case, as the delivered schema describes it. */
function deliveredRecord(c: BatchCase, i: number): Record<string, unknown> {
  const e = c.events[i]!;
  const seq = c.firstSeq + i;
  return { event_id: e.eventId ?? `${c.publisher}-${seq}`, receive_time: e.receiveUs, publisher: c.publisher, seq, ...e.payload };
}

function summary(c: BatchCase, version: SchemaVersion): unknown {
  return { ...c, events: c.events.map((e) => ({ payloadBytes: version.payloadType.toBuffer(e.payload).length, eventId: e.eventId?.length })) };
}

/** Runs the property `numRuns` times; returns what it covered. */
export async function sdkBatchesRoundTrip(numRuns: number): Promise<{ events: number; largestRecordBytes: number; codecs: number }> {
  const { registry, dispose } = await loadPropertyRegistry();
  const oracle = await FastavroOracle.start();
  const versions = new Map(TYPES.map((t) => [t, registry.require(t).latest]));
  let events = 0;
  let largestRecordBytes = 0;
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(caseArb(versions), async (c) => {
        const version = versions.get(c.typeName)!;
        // On a hang, replay this case with fc.assert(…, { seed, path: String(run) }).
        reportProgress({ seed: PROPERTY_SEED, run: run++, case: summary(c, version) });
        const encoder = new EventEncoder(version, c.publisher);

        // A sink in a random state: random initial size, and random bytes already written.
        const sink = new ByteSink(c.initialBytes);
        const filled = 'fromEnd' in c.fill ? Math.max(0, c.initialBytes - c.fill.fromEnd) : c.fill.bytes;
        sink.reserve(filled);
        for (let i = 0; i < filled; i++) sink.buf[i] = (c.fillSeed + i * 131) & 0xff;
        sink.length = filled;
        const before = Buffer.from(sink.buf.subarray(0, filled));
        const records: Buffer[] = [];
        c.events.forEach((e, i) => {
          const at = sink.length;
          const size = encoder.append(sink, e.payload, c.firstSeq + i, e.receiveUs, e.eventId);
          assert.equal(sink.length, at + size, 'append returns the bytes it added');
          records.push(Buffer.from(sink.buf.subarray(at, sink.length)));
        });
        assert.ok(sink.buf.subarray(0, filled).equals(before), 'the bytes already in the sink are kept');
        records.forEach((r, i) => assert.ok(r.equals(version.deliveredType.toBuffer(deliveredRecord(c, i))), `record ${i}: the bytes of avsc's own encoding`));

        // The same events as a real batch (which starts empty), sealed and compressed as a message's data.
        const batch = new OpenBatch(c.typeName, version.version, 0, c.firstSeq, c.initialBytes, 0);
        c.events.forEach((e, i) => {
          encoder.append(batch.sink, e.payload, c.firstSeq + i, e.receiveUs, e.eventId);
          batch.noteEvent(e.receiveUs, e.eventId !== undefined);
        });
        const expected = c.events.map((_, i) => asOracleSees(version.deliveredType, deliveredRecord(c, i)));
        for (const codec of CODEC_NAMES) {
          const sealed = batch.seal(codec);
          assert.equal(sealed.count, c.events.length);
          assert.equal(sealed.clientIds, c.events.some((e) => e.eventId !== undefined));
          assert.ok(sealed.datums.equals(Buffer.concat(records)), 'a batch holds the same bytes whatever state its buffer started in');
          const data = compressBlock(codec, sealed.datums);
          assert.ok(decompressBlock(codec, data).equals(sealed.datums), `${codec}: our own round trip`);
          const read = await oracle.decodeBlock(version.deliveredSchemaJson, codec, data, c.events.length);
          assert.deepEqual(read.records, expected, `${codec}: fastavro reads exactly the events`);
          read.datums.forEach((d, i) => assert.ok(d.equals(records[i]!), `${codec}: record ${i} is byte for byte fastavro's encoding of it`));
        }
        events += c.events.length;
        largestRecordBytes = Math.max(largestRecordBytes, ...records.map((r) => r.length));
      }),
      propertyParameters(numRuns),
    );
  } finally {
    await oracle.close();
    await dispose();
  }
  return { events, largestRecordBytes, codecs: CODEC_NAMES.length };
}
