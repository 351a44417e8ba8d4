// Properties of worker staging (MessageValidator → StagingGroup → ContainerWriter), run in a worker thread with a deadline by staging-group.property.test.ts.
//
// For random SDK messages (any type and version, any codec, recompressed or not): the sealed
// staging file is what fastavro reads as exactly the messages' records, block per message; each
// manifest entry's offset and length frame exactly that message's block, whose body is the
// accepted body byte for byte; and the SHA-256 and counts describe the file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { readLong, SYNC_MARKER_BYTES, parseContainer } from '../../services/wire/avro-container.ts';
import { MessageValidator } from '../../services/worker/message-validator.ts';
import { StagingGroup } from '../../services/worker/staging-group.ts';
import { asOracleSees, propertyParameters } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { loadPropertyRegistry } from '../helpers/property-registry.ts';
import { codecArb, eventsArb, sdkMessage } from '../helpers/property-messages.ts';
import { fakeInbound } from '../fixtures/worker-messages.ts';

const WINDOW_S = 3600;
const WINDOW = 498_000;

export async function stagingFilesRoundTrip(numRuns: number): Promise<{ messages: number; recompressed: number }> {
  const { registry, dispose } = await loadPropertyRegistry();
  const oracle = await FastavroOracle.start();
  let messages = 0;
  let recompressed = 0;
  try {
    const versions = registry.types().flatMap((t) => t.versions.map((v) => ({ type: t.name, version: v })));
    const caseArb = fc.constantFrom(...versions).chain(({ type, version }) =>
      fc.record({
        type: fc.constant(type),
        version: fc.constant(version),
        groupCodec: codecArb,
        recompress: fc.boolean(),
        messages: fc.array(
          fc.record({
            publisher: fc.oneof(fc.constantFrom('p1', 'gateway-8f2c1d3e'), fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/)),
            firstSeq: fc.nat(),
            codec: codecArb,
            events: eventsArb(version, { maxEvents: 5, maxTopLevelBytes: 5000, windowS: WINDOW_S }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        reportProgress({ type: c.type, version: c.version.version, groupCodec: c.groupCodec, recompress: c.recompress, messages: c.messages.map((m) => ({ codec: m.codec, events: m.events.length })) });
        // Without recompression, a group holds messages of its own codec only.
        const validator = new MessageValidator(registry, { windowLengthS: WINDOW_S, maxBlockBytes: 64 * 1024 * 1024, codec: c.recompress ? c.groupCodec : undefined });
        const group = new StagingGroup({ type: c.type, window: WINDOW, version: c.version.version, codec: c.groupCodec }, c.version.deliveredSchemaJson, WINDOW_S, 1);
        const built = c.messages.map((m) => sdkMessage({ ...m, codec: c.recompress ? m.codec : c.groupCodec, type: c.type, version: c.version, window: WINDOW, windowS: WINDOW_S }));
        const bodies = built.map((b) => {
          const verdict = validator.validate(c.type, b.data, b.attributes);
          assert.ok(verdict.ok, `the validator accepts an SDK message: ${verdict.ok ? '' : verdict.detail}`);
          assert.equal(verdict.codec, c.groupCodec);
          if (b.attributes.codec === c.groupCodec) assert.equal(verdict.body, b.data, 'a body in the group\'s codec is the message data itself, not a copy');
          else recompressed++;
          group.add(fakeInbound(b.data, b.attributes, c.type), verdict);
          return verdict.body;
        });

        const sealed = group.seal();
        assert.equal(sealed.sha256, createHash('sha256').update(sealed.bytes).digest('hex'));
        assert.equal(sealed.events, built.reduce((n, b) => n + b.records.length, 0));
        assert.equal(sealed.minReceiveUs, Math.min(...built.map((b) => Number(b.attributes.min_rt))));
        assert.equal(sealed.maxReceiveUs, Math.max(...built.map((b) => Number(b.attributes.max_rt))));
        const parsed = parseContainer(sealed.bytes);
        assert.equal(sealed.messages.length, built.length);
        let at = parsed.header.byteLength;
        sealed.messages.forEach((entry, i) => {
          const b = built[i]!;
          assert.deepEqual([entry.publisher, entry.firstSeq, entry.count, entry.clientIds], [b.attributes.publisher, Number(b.attributes.first_seq), b.records.length, b.attributes.client_ids === '1']);
          assert.equal(entry.offset, at, `message ${i}: blocks follow each other`);
          // The manifest's range alone frames the block: count, size, the body byte for byte, the sync marker.
          const block = sealed.bytes.subarray(entry.offset, entry.offset + entry.length);
          const count = readLong(block, 0);
          const size = readLong(block, count.next);
          assert.equal(count.value, entry.count);
          assert.ok(block.subarray(size.next, size.next + size.value).equals(bodies[i]!), `message ${i}: the accepted body byte for byte`);
          assert.equal(size.next + size.value + SYNC_MARKER_BYTES, entry.length);
          assert.ok(block.subarray(entry.length - SYNC_MARKER_BYTES).equals(parsed.header.sync));
          assert.deepEqual([parsed.blocks[i]!.offset, parsed.blocks[i]!.byteLength], [entry.offset, entry.length]);
          at += entry.length;
        });
        assert.equal(at, sealed.bytes.length);

        const read = await oracle.readContainer(sealed.bytes);
        assert.equal(read.codec, c.groupCodec);
        assert.deepEqual(read.blocks, built.map((b) => b.records.length));
        assert.deepEqual(read.records, built.flatMap((b) => b.records).map((r) => asOracleSees(c.version.deliveredType, r)));
        messages += built.length;
      }),
      propertyParameters(numRuns),
    );
  } finally {
    await oracle.close();
    await dispose();
  }
  return { messages, recompressed };
}
