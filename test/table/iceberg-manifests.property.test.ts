// Property test of the Iceberg manifest and manifest-list encoders (services/table/iceberg-manifests.ts) against an independent reader (fastavro): random files, counts, paths and 64-bit snapshot ids read back exactly, with the spec's field ids and file metadata; our own reader round-trips them; catalog JSON keeps 64-bit ids exact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeManifestList, encodeManifest, encodeManifestList, newManifestListEntry, PARTITION_FIELD_ID, type DataFileEntry } from '../../services/table/iceberg-manifests.ts';
import { planSchema } from '../../services/table/iceberg-schema.ts';
import { parseCatalogJson, stringifyCatalogJson } from '../../services/table/rest-catalog.ts';
import { ensurePythonVenv } from '../helpers/python.ts';

const ORACLE = String.raw`
import json, sys, fastavro
def plain(v):
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list): return [plain(x) for x in v]
    if isinstance(v, (bytes, bytearray)): return v.hex()
    if isinstance(v, bool) or v is None or isinstance(v, str): return v
    if isinstance(v, int): return str(v)
    return v
def ids(schema):
    out = {}
    def walk(t, prefix):
        if isinstance(t, list):
            for b in t: walk(b, prefix)
        elif isinstance(t, dict):
            if t.get("type") == "record":
                for f in t["fields"]:
                    out[prefix + f["name"]] = f.get("field-id")
                    walk(f["type"], prefix + f["name"] + ".")
            elif t.get("type") == "array":
                if "element-id" in t: out[prefix + "element"] = t["element-id"]
                walk(t["items"], prefix)
    walk(schema, "")
    return out
for line in sys.stdin:
    try:
        with open(line.strip(), "rb") as f:
            r = fastavro.reader(f)
            meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.metadata.items() if not k.startswith("avro.")}
            print(json.dumps({"meta": meta, "ids": ids(json.loads(r.metadata["avro.schema"])), "codec": r.codec, "records": [plain(x) for x in r]}), flush=True)
    except Exception as e:
        print(json.dumps({"error": repr(e)}), flush=True)
`;

interface Answer {
  readonly meta?: Record<string, string>;
  readonly ids?: Record<string, number>;
  readonly codec?: string;
  readonly records?: Array<Record<string, unknown>>;
  readonly error?: string;
}

const snapshotId = fc.oneof(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }));
const dataFile: fc.Arbitrary<DataFileEntry> = fc.record({
  path: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map((s) => `file:///warehouse/t/data/${s}.parquet`),
  records: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  bytes: fc.integer({ min: 0, max: 2 ** 40 }),
  hour: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

describe('Iceberg manifests read back by fastavro', () => {
  let dir: string;
  let ask: (file: string) => Promise<Answer>;
  let stopOracle: () => void;
  const schema = planSchema(JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'event_id', type: 'string' }, { name: 'receive_time', type: { type: 'long', logicalType: 'timestamp-micros' } }] }), undefined, 0).schema;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hg-manifests-'));
    const child = spawn(await ensurePythonVenv(), ['-c', ORACLE], { stdio: ['pipe', 'pipe', 'inherit'] });
    const waiting: Array<(line: string) => void> = [];
    createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(line));
    ask = (file) =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as Answer));
        child.stdin.write(`${file}\n`);
      });
    stopOracle = () => child.stdin.end();
  });
  after(async () => {
    stopOracle?.();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  const write = async (bytes: Buffer) => {
    const p = path.join(dir, `${n++}.avro`);
    await writeFile(p, bytes);
    return p;
  };

  it('a manifest: every ADDED entry with its path, counts and hour partition; inherited ids null; the spec\'s field ids and metadata', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dataFile, { maxLength: 12 }), async (files) => {
        const got = await ask(await write(encodeManifest(files, schema, 2)));
        assert.equal(got.error, undefined, got.error);
        assert.equal(got.codec, 'deflate');
        assert.equal(got.meta!['format-version'], '2');
        assert.equal(got.meta!.content, 'data');
        assert.deepEqual(JSON.parse(got.meta!['partition-spec']!), [{ name: 'receive_time_hour', transform: 'hour', 'source-id': 2, 'field-id': PARTITION_FIELD_ID }]);
        assert.deepEqual(JSON.parse(got.meta!.schema!), schema);
        for (const [name, id] of Object.entries({ status: 0, snapshot_id: 1, sequence_number: 3, file_sequence_number: 4, data_file: 2, 'data_file.content': 134, 'data_file.file_path': 100, 'data_file.file_format': 101, 'data_file.partition': 102, 'data_file.partition.receive_time_hour': 1000, 'data_file.record_count': 103, 'data_file.file_size_in_bytes': 104, 'data_file.lower_bounds': 125, 'data_file.lower_bounds.key': 126, 'data_file.lower_bounds.value': 127, 'data_file.split_offsets': 132, 'data_file.split_offsets.element': 133 })) {
          assert.equal(got.ids![name], id, `field id of ${name}`);
        }
        assert.deepEqual(
          got.records!.map((r) => [r.status, r.snapshot_id, r.sequence_number, (r.data_file as Record<string, unknown>).file_path, (r.data_file as Record<string, unknown>).file_format, (r.data_file as Record<string, unknown>).record_count, (r.data_file as Record<string, unknown>).file_size_in_bytes, ((r.data_file as Record<string, unknown>).partition as Record<string, unknown>).receive_time_hour]),
          files.map((f) => ['1', null, null, f.path, 'PARQUET', String(f.records), String(f.bytes), String(f.hour)]),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('a manifest list: the new manifest and the parent\'s, 64-bit ids exact, read the same by fastavro and by our reader', async () => {
    const parentEntry = fc.record({ id: snapshotId, seq: fc.integer({ min: 1, max: 1_000_000 }), files: fc.array(dataFile, { minLength: 1, maxLength: 3 }), length: fc.integer({ min: 1, max: 2 ** 40 }) });
    await fc.assert(
      fc.asyncProperty(snapshotId, fc.option(snapshotId, { nil: null }), fc.array(parentEntry, { maxLength: 8 }), async (id, parent, parents) => {
        const entries = parents.map((p, i) => newManifestListEntry(`file:///w/metadata/m${i}.avro`, p.length, p.files, p.id, p.seq));
        const bytes = encodeManifestList(entries, id, parent, 99);
        const got = await ask(await write(bytes));
        assert.equal(got.error, undefined, got.error);
        assert.deepEqual(got.meta, { 'snapshot-id': String(id), 'parent-snapshot-id': parent === null ? 'null' : String(parent), 'sequence-number': '99', 'format-version': '2' });
        for (const [name, fieldId] of Object.entries({ manifest_path: 500, manifest_length: 501, partition_spec_id: 502, content: 517, sequence_number: 515, min_sequence_number: 516, added_snapshot_id: 503, added_files_count: 504, added_rows_count: 512, partitions: 507, 'partitions.element': 508, 'partitions.contains_null': 509, 'partitions.lower_bound': 510, key_metadata: 519 })) {
          assert.equal(got.ids![name], fieldId, `field id of ${name}`);
        }
        assert.deepEqual(
          got.records!.map((r) => [r.manifest_path, r.added_snapshot_id, r.sequence_number, r.added_files_count, r.added_rows_count]),
          entries.map((e) => [e.manifest_path, String(e.added_snapshot_id), String(e.sequence_number), String(e.added_files_count), String(e.added_rows_count)]),
        );
        // Partition bounds: the hours, as 4-byte little-endian ints.
        for (const [i, r] of got.records!.entries()) {
          const hours = parents[i]!.files.map((f) => f.hour);
          const le = (h: number) => Buffer.from(Int32Array.of(h).buffer).toString('hex');
          assert.deepEqual(r.partitions, [{ contains_null: false, contains_nan: false, lower_bound: le(Math.min(...hours)), upper_bound: le(Math.max(...hours)) }]);
        }
        const back = decodeManifestList(bytes);
        assert.deepEqual(back.map((e) => String(e.added_snapshot_id)), entries.map((e) => String(e.added_snapshot_id)));
        assert.deepEqual(back.map(({ added_snapshot_id: _a, partitions: _p, ...rest }) => rest), entries.map(({ added_snapshot_id: _a, partitions: _p, ...rest }) => rest));
      }),
      { numRuns: 60 },
    );
  });

  it('catalog JSON: 64-bit ids survive a parse and a stringify exactly; safe ones stay numbers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (id) => {
        const text = `{"snapshot-id":${id},"n":[${id},1.5,7]}`;
        const parsed = parseCatalogJson(text) as { 'snapshot-id': number | bigint; n: unknown[] };
        assert.equal(String(parsed['snapshot-id']), String(id));
        assert.equal(typeof parsed['snapshot-id'], Number.isSafeInteger(Number(id)) && BigInt(Number(id)) === id ? 'number' : 'bigint');
        assert.equal(stringifyCatalogJson(parsed), text);
      }),
    );
  });
});
