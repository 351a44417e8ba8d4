// Properties of proveRecordCount (services/wire/record-skipper.ts) on SDK-encoded blocks, run in a worker with a deadline by record-skipper.property.test.ts.
//
// Valid blocks prove at their count and only at it; truncated or extended ones are refused; any
// damage gives an answer (never an exception, never a hang); and whatever it proves, fastavro
// reads as exactly that many records, nothing left over: the worker never stages a block that an
// independent strict reader cannot read.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SchemaVersion } from '../../services/registry/registry.ts';
import { ByteSink, EventEncoder } from '../../services/sdk/event-encoder.ts';
import { compileSkipper, proveRecordCount, type Skipper } from '../../services/wire/record-skipper.ts';
import { anyLong, damage, damageArb, text, valueOf, propertyParameters } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { loadPropertyRegistry } from '../helpers/property-registry.ts';

interface Version {
  readonly schema: SchemaVersion;
  readonly skipper: Skipper;
  readonly payloads: fc.Arbitrary<Record<string, unknown>[]>;
}

/** A block of 1 to 6 records of some type and version, as the SDK encodes it. */
function blockArb(versions: readonly Version[]): fc.Arbitrary<{ version: Version; body: Buffer; count: number }> {
  return fc.constantFrom(...versions).chain((version) =>
    fc.record({ payloads: version.payloads, firstSeq: fc.nat(), receiveUs: anyLong, eventId: fc.option(text(20, 1), { nil: undefined }) }).map(({ payloads, firstSeq, receiveUs, eventId }) => {
      const encoder = new EventEncoder(version.schema, 'pub-1');
      const sink = new ByteSink(64);
      payloads.forEach((p, i) => encoder.append(sink, p, firstSeq + i, receiveUs, eventId));
      return { version, body: Buffer.from(sink.bytes()), count: payloads.length };
    }),
  );
}

/** `maxTopLevelBytes` bounds strings: short ones leave damage more structure (lengths, enums, unions) to hit. */
async function withVersions<T>(maxTopLevelBytes: number, run: (versions: Version[], oracle: FastavroOracle) => Promise<T>): Promise<T> {
  const { registry, dispose } = await loadPropertyRegistry();
  const oracle = await FastavroOracle.start();
  try {
    const versions = registry.types().flatMap((t) =>
      t.versions.map((schema) => ({
        schema,
        // As the worker compiles it: from the delivered schema, strict UTF-8.
        skipper: compileSkipper(schema.deliveredSchema),
        payloads: fc.array(valueOf(schema.payloadType, { maxTopLevelBytes }) as fc.Arbitrary<Record<string, unknown>>, { minLength: 1, maxLength: 6 }),
      })),
    );
    return await run(versions, oracle);
  } finally {
    await oracle.close();
    await dispose();
  }
}

/** Valid blocks prove at their count, and at no other; cut short or extended, they are refused. */
export function validBlocksProve(numRuns: number): Promise<number> {
  return withVersions(2000, async (versions) => {
    let proved = 0;
    fc.assert(
      fc.property(blockArb(versions), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }), ({ version, body, count }, cut, extra) => {
        reportProgress({ type: version.schema.file, body: body.toString('hex'), count });
        const { skipper } = version;
        assert.deepEqual(proveRecordCount(skipper, body, count), { ok: true });
        assert.equal(proveRecordCount(skipper, body, count + 1).ok, false, 'one record more than there is');
        assert.equal(proveRecordCount(skipper, body, count - 1).ok, false, 'one record less than there is');
        assert.equal(proveRecordCount(skipper, body.subarray(0, cut % body.length), count).ok, false, 'cut short');
        assert.equal(proveRecordCount(skipper, Buffer.concat([body, extra]), count).ok, false, 'extended');
        proved++;
      }),
      propertyParameters(numRuns),
    );
    return proved;
  });
}

/** Damaged blocks: an answer, never an exception; and what is proved, fastavro reads as exactly that many records. */
export function damagedBlocksAnswer(numRuns: number): Promise<{ refused: number; proved: number }> {
  return withVersions(16, async (versions, oracle) => {
    let refused = 0;
    let proved = 0;
    await fc.assert(
      fc.asyncProperty(blockArb(versions), fc.array(damageArb, { minLength: 1, maxLength: 3 }), async ({ version, body, count }, damages) => {
        let damaged = body;
        for (const d of damages) damaged = damage(damaged, d);
        reportProgress({ type: version.schema.file, body: damaged.toString('hex'), count });
        const verdict = proveRecordCount(version.skipper, damaged, count);
        if (!verdict.ok) {
          assert.equal(typeof verdict.reason, 'string');
          refused++;
          return;
        }
        proved++;
        await oracle.decodeBlock(version.schema.deliveredSchemaJson, 'null', damaged, count).catch((err: unknown) => {
          assert.fail(`proved ${count} records, but fastavro cannot read them: ${String(err)} (body ${damaged.toString('hex')})`);
        });
      }),
      propertyParameters(numRuns),
    );
    return { refused, proved };
  });
}
