// Properties of salvageRecords (services/worker/record-salvage.ts), run in a worker with a deadline by record-salvage.property.test.ts.
//
// For random SDK blocks of every type and version (the every-type fixture included) in which random
// records carry bytes the value rules refuse (not UTF-8, or a lone surrogate, in a string field):
// exactly those records are refused, by seq; the kept runs partition the others into runs of
// consecutive seqs; each run's bytes are exactly its records as the encoder wrote them one by one
// (framing independent of the skippers); and fastavro, the independent reader, reads each run as
// exactly its count of records. Terminates on every input (the deadline of the runner).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SchemaVersion } from '../../services/registry/registry.ts';
import { ByteSink, EventEncoder } from '../../services/sdk/event-encoder.ts';
import { compileSkipper, type Skipper } from '../../services/wire/record-skipper.ts';
import { salvageRecords } from '../../services/worker/record-salvage.ts';
import { anyLong, propertyParameters, valueOf } from '../helpers/avro-arbitraries.ts';
import { reportProgress } from '../helpers/bounded-worker.ts';
import { FastavroOracle } from '../helpers/fastavro-oracle.ts';
import { loadPropertyRegistry } from '../helpers/property-registry.ts';
import { BAD_BYTES } from '../fixtures/refused-records.ts';

interface Version {
  readonly schema: SchemaVersion;
  readonly strict: Skipper;
  readonly structural: Skipper;
  readonly payloads: fc.Arbitrary<Record<string, unknown>[]>;
}

const PUBLISHER = 'pub-1';

export async function salvageKeepsGoodRecords(numRuns: number): Promise<{ cases: number; refused: number; kept: number }> {
  const { registry, dispose } = await loadPropertyRegistry();
  const oracle = await FastavroOracle.start();
  let cases = 0;
  let refusedTotal = 0;
  let keptTotal = 0;
  try {
    const versions: Version[] = registry.types().flatMap((t) =>
      t.versions.map((schema) => ({
        schema,
        strict: compileSkipper(schema.deliveredSchema),
        structural: compileSkipper(schema.deliveredSchema, { values: false }),
        payloads: fc.array(valueOf(schema.payloadType, { maxTopLevelBytes: 200 }) as fc.Arbitrary<Record<string, unknown>>, { minLength: 1, maxLength: 12 }),
      })),
    );
    const caseArb = fc.constantFrom(...versions).chain((version) =>
      fc.record({
        version: fc.constant(version),
        payloads: version.payloads,
        firstSeq: fc.nat({ max: 1_000_000 }),
        receiveUs: anyLong,
        bad: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        kind: fc.constantFrom(...(Object.keys(BAD_BYTES) as Array<keyof typeof BAD_BYTES>)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ version, payloads, firstSeq, receiveUs, bad, kind }) => {
        // Each record encoded alone, then the block as the SDK encodes it: the same bytes, concatenated.
        const encoder = new EventEncoder(version.schema, PUBLISHER);
        const records = payloads.map((p, i) => {
          const sink = new ByteSink(64);
          encoder.append(sink, p, firstSeq + i, receiveUs, undefined);
          return Buffer.from(sink.bytes());
        });
        const refusedIdx = payloads.map((_, i) => i).filter((i) => bad[i]);
        for (const i of refusedIdx) {
          // The generated event_id ("pub-1-<seq>") is the first field: its first bytes are always a string's.
          const at = records[i]!.indexOf(Buffer.from(PUBLISHER));
          Buffer.from(BAD_BYTES[kind]).copy(records[i]!, at);
        }
        const body = Buffer.concat(records);
        reportProgress({ type: version.schema.file, body: body.toString('hex'), count: payloads.length, refusedIdx });
        const salvage = salvageRecords(version.strict, version.structural, body, firstSeq, payloads.length);
        assert.ok(salvage, 'the structure is intact, so the records can be told apart');
        assert.deepEqual(salvage.refused.map((r) => r.seq), refusedIdx.map((i) => firstSeq + i));
        for (const r of salvage.refused) assert.match(r.reason, /UTF-8/);
        let expectedSeq = firstSeq;
        const keptSeqs: number[] = [];
        for (const run of salvage.kept) {
          assert.ok(run.count > 0);
          assert.ok(run.firstSeq >= expectedSeq, 'runs in seq order, not overlapping');
          expectedSeq = run.firstSeq + run.count;
          const idx = Array.from({ length: run.count }, (_, k) => run.firstSeq - firstSeq + k);
          keptSeqs.push(...idx.map((i) => firstSeq + i));
          assert.deepEqual(run.datums, Buffer.concat(idx.map((i) => records[i]!)), 'a run is its records byte for byte');
          const read = await oracle.decodeBlock(version.schema.deliveredSchemaJson, 'null', Buffer.from(run.datums), run.count);
          assert.deepEqual(read.records.map((r) => r.seq), idx.map((i) => firstSeq + i), 'fastavro reads exactly the run');
        }
        assert.deepEqual([...keptSeqs, ...salvage.refused.map((r) => r.seq)].sort((a, b) => a - b), payloads.map((_, i) => firstSeq + i), 'every seq kept or refused, once');
        // Adjacent kept runs are merged: between two runs there is always a refused record.
        for (let k = 1; k < salvage.kept.length; k++) assert.ok(salvage.kept[k]!.firstSeq > salvage.kept[k - 1]!.firstSeq + salvage.kept[k - 1]!.count);
        cases++;
        refusedTotal += salvage.refused.length;
        keptTotal += keptSeqs.length;
      }),
      propertyParameters(numRuns),
    );
  } finally {
    await oracle.close();
    await dispose();
  }
  return { cases, refused: refusedTotal, kept: keptTotal };
}
