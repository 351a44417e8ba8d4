// Properties of closing's data half (compactWindow: fast path copying blocks, slow path re-encoding, part size limits), run in a worker with a deadline by window-compactor.property.test.ts.
//
// Publishers' streams of generated events are cut into SDK messages, some redelivered and some
// re-sent over overlapping ranges, in random codecs (and, for track_played, schema versions), and
// staged by the real validator, staging groups and staging writer into a local-directory bucket.
// The part files, read by fastavro, hold exactly one copy of every event, in the target schema
// and codec; every part but the last reached the size limit and none passed it by more than its
// last block; and every message that nothing else overlapped, without client ids, already in the
// target schema and codec, was copied as its block, byte for byte.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { compactWindow } from '../../services/checker/window-compactor.ts';
import type { IndexedManifest } from '../../services/checker/staging-index.ts';
import type { Registry, SchemaVersion } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { parseContainer } from '../../services/wire/avro-container.ts';
import type { CodecName } from '../../services/wire/codecs.ts';
import { MessageValidator } from '../../services/worker/message-validator.ts';
import { StagingGroup } from '../../services/worker/staging-group.ts';
import { StagingWriter } from '../../services/worker/staging-writer.ts';
import { asOracleSees, propertyParameters } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { loadPropertyRegistry } from '../helpers/property-registry.ts';
import { codecArb, eventsArb, sdkMessage, type BuiltMessage, type EventSpec } from '../helpers/property-messages.ts';
import { fakeInbound } from '../fixtures/worker-messages.ts';

const WINDOW_S = 3600;
const WINDOW = 498_000;

interface PublisherStream {
  readonly publisher: string;
  /** Schema version of all its events. */
  readonly version: number;
  /** Every event the publisher sent, seq 0 first; receive times non-decreasing. */
  readonly events: readonly EventSpec[];
}

interface Sent {
  readonly stream: PublisherStream;
  /** Seqs [from, to) of the stream. */
  readonly from: number;
  readonly to: number;
  readonly codec: CodecName;
  /** Which staging file (among those of its version and codec) holds it. */
  readonly slot: number;
}

interface CompactCase {
  readonly type: string;
  readonly streams: readonly PublisherStream[];
  readonly sent: readonly Sent[];
  readonly codec: CodecName;
  readonly maxPartBytes: number;
}

function caseArb(registry: Registry): fc.Arbitrary<CompactCase> {
  const types = ['track_played', 'search_performed', 'everything'];
  return fc.constantFrom(...types).chain((type) => {
    const versions = registry.require(type).versions;
    const stream = (publisher: string) =>
      fc.tuple(fc.constantFrom(...versions), fc.boolean()).chain(([version, clientIds]) =>
        eventsArb(version, { maxEvents: 12, maxTopLevelBytes: 2000, windowS: WINDOW_S }).map((events): PublisherStream => ({
          publisher,
          version: version.version,
          // Half the publishers send no client ids. Those sent are unique to their event: the checker keeps
          // one copy per client id, and this property is about the copies of one event.
          events: events.map((e, seq) => (e.eventId === undefined ? e : { ...e, eventId: clientIds ? `${e.eventId}|${publisher}|${seq}` : undefined })),
        })),
      );
    return fc
      .uniqueArray(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/), { minLength: 1, maxLength: 3 })
      .chain((publishers) => fc.tuple(...publishers.map(stream)))
      .chain((streams) => {
        // Each stream cut into consecutive messages, then some sent again whole (redelivery) or over any range (a re-send).
        const cuts = streams.map((s) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, s.events.length - 1) }), { maxLength: s.events.length - 1 }));
        const sendArb = (s: PublisherStream) =>
          fc.integer({ min: 0, max: s.events.length - 1 }).chain((from) => fc.integer({ min: from + 1, max: s.events.length }).map((to) => ({ from, to })));
        return fc.record({
          type: fc.constant(type),
          streams: fc.constant(streams),
          cuts: fc.tuple(...cuts),
          again: fc.array(fc.integer({ min: 0, max: streams.length - 1 }).chain((i) => sendArb(streams[i]!).map((r) => ({ stream: streams[i]!, ...r }))), { maxLength: 4 }),
          codecs: fc.infiniteStream(codecArb),
          slots: fc.infiniteStream(fc.integer({ min: 0, max: 2 })),
          codec: codecArb,
          maxPartBytes: fc.oneof(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 300_000 })),
        });
      })
      .map(({ type, streams, cuts, again, codecs, slots, codec, maxPartBytes }) => {
        const ranges = streams.flatMap((s, i) => {
          const bounds = [0, ...[...cuts[i]!].sort((a, b) => a - b).filter((c) => c < s.events.length), s.events.length];
          return bounds.slice(1).map((to, k) => ({ stream: s, from: bounds[k]!, to }));
        });
        const sent = [...ranges, ...again].map((r) => ({ ...r, codec: codecs.next().value as CodecName, slot: slots.next().value as number }));
        return { type, streams, sent, codec, maxPartBytes };
      });
  });
}

function messageOf(registry: Registry, c: CompactCase, s: Sent): BuiltMessage {
  return sdkMessage({ type: c.type, version: registry.version(c.type, s.stream.version), publisher: s.stream.publisher, firstSeq: s.from, events: s.stream.events.slice(s.from, s.to), codec: s.codec, window: WINDOW, windowS: WINDOW_S });
}

/** Stages the messages as the worker does: validated, grouped per (version, codec, slot), written with their manifests. */
async function stage(storage: LocalDirectoryStorage, registry: Registry, c: CompactCase, built: readonly BuiltMessage[]): Promise<IndexedManifest[]> {
  const validator = new MessageValidator(registry, { windowLengthS: WINDOW_S, maxBlockBytes: 64 * 1024 * 1024, codec: undefined });
  const groups = new Map<string, StagingGroup>();
  c.sent.forEach((s, i) => {
    const verdict = validator.validate(c.type, built[i]!.data, built[i]!.attributes);
    assert.ok(verdict.ok, verdict.ok ? '' : verdict.detail);
    const key = `${s.stream.version}/${s.codec}/${s.slot}`;
    let group = groups.get(key);
    if (!group) {
      const schemaJson = registry.version(c.type, s.stream.version).deliveredSchemaJson;
      groups.set(key, (group = new StagingGroup({ type: c.type, window: WINDOW, version: s.stream.version, codec: s.codec }, schemaJson, WINDOW_S, 1)));
    }
    group.add(fakeInbound(built[i]!.data, built[i]!.attributes, c.type), verdict);
  });
  const writer = new StagingWriter(storage, { nowUs: () => 1 }, { workerId: 'property', initialBackoffMs: 1, maxBackoffMs: 1, deadlineMs: 1000 }, () => undefined);
  const manifests: IndexedManifest[] = [];
  for (const group of groups.values()) {
    const written = await writer.write(group.seal());
    assert.ok(written.ok);
    manifests.push({ key: written.manifestKey, manifest: written.manifest });
  }
  return manifests;
}

/** A delivered record read in `target`: fields the writer's version lacks take their default. */
function inTarget(record: Record<string, unknown>, target: SchemaVersion): Record<string, unknown> {
  const fields = (target.deliveredSchema.fields as Array<{ name: string; default?: unknown }>).map((f) => [f.name, f.name in record ? record[f.name] : f.default]);
  return asOracleSees(target.deliveredType, Object.fromEntries(fields)) as Record<string, unknown>;
}

const byPublisherAndSeq = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  a.publisher === b.publisher ? Number(a.seq) - Number(b.seq) : String(a.publisher) < String(b.publisher) ? -1 : 1;

export async function partFilesHoldEveryEventOnce(numRuns: number): Promise<{ parts: number; copiedBlocks: number; events: number }> {
  const { registry, dispose } = await loadPropertyRegistry();
  const oracle = await FastavroOracle.start();
  const root = await mkdtemp(path.join(os.tmpdir(), 'hg-compactor-property-'));
  let run = 0;
  let parts = 0;
  let copiedBlocks = 0;
  let events = 0;
  try {
    await fc.assert(
      fc.asyncProperty(caseArb(registry), async (c) => {
        const attempt = `run${run++}`;
        reportProgress({ attempt, type: c.type, codec: c.codec, maxPartBytes: c.maxPartBytes, sent: c.sent.map((s) => [s.stream.publisher, s.stream.version, s.from, s.to, s.codec, s.slot]) });
        const storage = await LocalDirectoryStorage.open(path.join(root, attempt));
        const built = c.sent.map((s) => messageOf(registry, c, s));
        const manifests = await stage(storage, registry, c, built);
        const result = await compactWindow(storage, registry, manifests, { type: c.type, window: WINDOW, outPrefix: 'out/', namePrefix: 'part', maxPartBytes: c.maxPartBytes, codec: c.codec, attempt });

        const target = registry.version(c.type, Math.max(...c.streams.map((s) => s.version)));
        assert.equal(result.schemaVersion, target.version);
        const expected = c.streams.flatMap((s) => {
          const records = sdkMessage({ type: c.type, version: registry.version(c.type, s.version), publisher: s.publisher, firstSeq: 0, events: s.events, codec: 'null', window: WINDOW, windowS: WINDOW_S }).records;
          return records.map((r) => inTarget(r, target));
        });
        const staged = c.sent.reduce((n, s) => n + s.to - s.from, 0);
        assert.deepEqual([result.events, result.redeliveredDropped, result.clientRetryDropped], [expected.length, staged - expected.length, 0]);

        const read: Record<string, unknown>[] = [];
        const outputBodies: Buffer[] = [];
        for (const [i, part] of result.files.entries()) {
          const bytes = await storage.get(part.key);
          assert.deepEqual([part.bytes, part.sha256], [bytes.length, createHash('sha256').update(bytes).digest('hex')]);
          const { header, blocks } = parseContainer(bytes);
          const last = blocks.at(-1)!;
          // A part holds at least one block, however small the limit.
          if (blocks.length > 1) assert.ok(bytes.length - last.byteLength < c.maxPartBytes, `part ${i} was under the limit before its last block`);
          if (i < result.files.length - 1) assert.ok(bytes.length >= c.maxPartBytes, `part ${i} was closed because it reached the limit`);
          outputBodies.push(...blocks.map((b) => b.body));
          const file = await oracle.readContainer(bytes);
          assert.deepEqual([file.codec, file.schema, header.schemaJson], [c.codec, target.deliveredSchemaJson, target.deliveredSchemaJson]);
          assert.equal(file.records.length, part.events);
          read.push(...file.records);
        }
        assert.deepEqual(read.sort(byPublisherAndSeq), expected.sort(byPublisherAndSeq), 'every event exactly once, in the target schema');

        // Messages that take the fast path whatever the processing order: copied whole, byte for byte.
        c.sent.forEach((s, i) => {
          const alone = c.sent.every((o, j) => j === i || o.stream !== s.stream || o.to <= s.from || o.from >= s.to);
          const eligible = alone && s.codec === c.codec && s.stream.version === target.version && s.stream.events.slice(s.from, s.to).every((e) => e.eventId === undefined);
          if (!eligible) return;
          assert.ok(outputBodies.some((b) => b.equals(built[i]!.data)), `message ${i} is copied as its block`);
          copiedBlocks++;
        });
        parts += result.files.length;
        events += expected.length;
        await rm(path.join(root, attempt), { recursive: true, force: true });
      }),
      propertyParameters(numRuns),
    );
  } finally {
    await oracle.close();
    await dispose();
    await rm(root, { recursive: true, force: true });
  }
  return { parts, copiedBlocks, events };
}
