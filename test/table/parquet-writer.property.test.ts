// Property test of the Parquet writer (services/table/parquet-writer.ts) against an independent reader, Apache Arrow's C++ Parquet reader (pyarrow): random flat schemas, values over each type's full range, nulls, row group sizes and row counts; every value read back exactly, every column with its Iceberg field id.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { HourColumn, IcebergPrimitive } from '../../services/table/iceberg-schema.ts';
import { HourParquetWriter } from '../../services/table/parquet-writer.ts';
import { ensurePythonVenv } from '../helpers/python.ts';
import { TABLE_PYTHON_PACKAGES } from '../helpers/iceberg-python.ts';

/** Reads a Parquet file with pyarrow; answers one JSON line per path: columns with field ids, row groups, values as exact strings. */
const ORACLE = String.raw`
import json, math, sys
import pyarrow as pa, pyarrow.parquet as pq
def plain(v, t):
    if v is None: return None
    if pa.types.is_binary(t): return v.hex()
    if pa.types.is_floating(t):
        if math.isnan(v): return "NaN"
        if math.isinf(v): return "Infinity" if v > 0 else "-Infinity"
        if v == 0 and math.copysign(1, v) < 0: return "-0"
        return repr(float(v))
    if pa.types.is_boolean(t): return "true" if v else "false"
    return str(v)
for line in sys.stdin:
    p = line.strip()
    try:
        f = pq.ParquetFile(p)
        t = f.read()
        cols = []
        for field, col in zip(t.schema, t.columns):
            typ = field.type
            if pa.types.is_timestamp(typ) or pa.types.is_date32(typ):
                col = col.cast(pa.int64() if pa.types.is_timestamp(typ) else pa.int32())
                typ = col.type
            cols.append({"name": field.name, "id": int(field.metadata[b"PARQUET:field_id"]), "nullable": field.nullable,
                         "arrow": str(field.type), "values": [plain(v, typ) for v in col.to_pylist()]})
        print(json.dumps({"rows": t.num_rows, "rowGroups": f.metadata.num_row_groups, "columns": cols}), flush=True)
    except Exception as e:
        print(json.dumps({"error": repr(e)}), flush=True)
`;

interface OracleAnswer {
  readonly rows?: number;
  readonly rowGroups?: number;
  readonly columns?: Array<{ name: string; id: number; nullable: boolean; arrow: string; values: Array<string | null> }>;
  readonly error?: string;
}

const TYPES: readonly IcebergPrimitive[] = ['string', 'long', 'int', 'boolean', 'double', 'float', 'binary', 'timestamptz', 'date'];
const ARROW: Record<string, RegExp> = {
  string: /^string$/,
  long: /^int64$/,
  int: /^int32$/,
  boolean: /^bool$/,
  double: /^double$/,
  float: /^float$/,
  binary: /^binary$/,
  timestamptz: /^timestamp\[us, tz=(UTC|\+00:00)\]$/,
  date: /^date32\[day\]$/,
};

function valueOf(type: IcebergPrimitive): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string':
      return fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 4 }), fc.constant(''));
    case 'long':
    case 'timestamptz':
      return fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER));
    case 'int':
    case 'date':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'boolean':
      return fc.boolean();
    case 'double':
      return fc.double();
    case 'float':
      return fc.float();
    case 'binary':
      return fc.uint8Array({ maxLength: 10 }).map((b) => Buffer.from(b));
  }
  throw new Error(type);
}

/** How pyarrow prints a value of `type` that we wrote from `v` (the oracle's `plain`). */
function expected(type: IcebergPrimitive, v: unknown): string | number | null {
  if (v === null) return null;
  switch (type) {
    case 'binary':
      return (v as Buffer).toString('hex');
    case 'boolean':
      return v ? 'true' : 'false';
    case 'double':
    case 'float': {
      const n = v as number;
      if (Number.isNaN(n)) return 'NaN';
      if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
      if (Object.is(n, -0)) return '-0';
      return n;
    }
    default:
      return String(v);
  }
}

const caseArb = fc
  .array(fc.record({ type: fc.constantFrom(...TYPES), optional: fc.boolean() }), { minLength: 1, maxLength: 6 })
  .chain((specs) => {
    const columns: HourColumn[] = specs.map((s, i) => ({ field: { id: 1 + i * 3, name: `c${i}_${s.type}`, required: !s.optional, type: s.type }, avroName: `c${i}_${s.type}`, scale: 'as-is' }));
    const record = fc.record(Object.fromEntries(columns.map((c) => [c.avroName, c.field.required ? valueOf(c.field.type) : fc.option(valueOf(c.field.type), { nil: null })])));
    return fc.record({ columns: fc.constant(columns), records: fc.array(record, { maxLength: 40 }), rowGroupRows: fc.integer({ min: 1, max: 50 }) });
  });

describe('Parquet writer (hyparquet-writer) read back by pyarrow', () => {
  let dir: string;
  let ask: (file: string) => Promise<OracleAnswer>;
  let stopOracle: () => void;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hg-parquet-'));
    const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
    const child = spawn(python, ['-c', ORACLE], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const waiting: Array<(line: string) => void> = [];
    lines.on('line', (line) => waiting.shift()?.(line));
    ask = (file) =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as OracleAnswer));
        child.stdin.write(`${file}\n`);
      });
    stopOracle = () => child.stdin.end();
  });
  after(async () => {
    stopOracle?.();
    await rm(dir, { recursive: true, force: true });
  });

  it('every value, null, field id, type and row group comes back as written', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ columns, records, rowGroupRows }) => {
        const writer = new HourParquetWriter(columns, { rowGroupRows });
        // In batches of random-ish sizes, as the committer adds an Avro block at a time.
        for (let i = 0; i < records.length; i += 7) writer.add(records.slice(i, i + 7));
        const file = writer.finish();
        assert.equal(file.records, records.length);
        const p = path.join(dir, `${n++}.parquet`);
        await writeFile(p, file.bytes);
        const got = await ask(p);
        assert.equal(got.error, undefined, got.error);
        assert.equal(got.rows, records.length);
        assert.equal(got.rowGroups, records.length === 0 ? 0 : Math.ceil(records.length / rowGroupRows));
        assert.equal(got.columns!.length, columns.length);
        for (const [i, c] of columns.entries()) {
          const col = got.columns![i]!;
          assert.equal(col.name, c.field.name);
          assert.equal(col.id, c.field.id, `field id of ${c.field.name}`);
          assert.equal(col.nullable, !c.field.required, `nullability of ${c.field.name}`);
          assert.match(col.arrow, ARROW[c.field.type]!, `arrow type of ${c.field.name}`);
          const want = records.map((r) => expected(c.field.type, (r as Record<string, unknown>)[c.avroName]));
          const have = col.values.map((v, j) => (typeof want[j] === 'number' ? (v === null ? null : Number(v)) : v));
          // Floats are compared as the numbers both sides hold (repr and JS differ in notation, not in value).
          assert.deepEqual(have, want.map((w) => (typeof w === 'number' && c.field.type === 'float' ? Math.fround(w) : w)), `values of ${c.field.name}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a record without a value for a required column, naming it', () => {
    const writer = new HourParquetWriter([{ field: { id: 1, name: 'event_id', required: true, type: 'string' }, avroName: 'event_id', scale: 'as-is' }]);
    assert.throws(() => writer.add([{ event_id: null }]), /required column "event_id"/);
  });

  it('scales milliseconds to microseconds for a timestamp-millis field', async () => {
    const writer = new HourParquetWriter([{ field: { id: 7, name: 't', required: true, type: 'timestamptz' }, avroName: 't', scale: 'millis-to-micros' }]);
    writer.add([{ t: 1_764_878_400_123 }]);
    const p = path.join(dir, 'millis.parquet');
    await writeFile(p, writer.finish().bytes);
    const got = await ask(p);
    assert.deepEqual(got.columns![0]!.values, ['1764878400123000']);
  });
});
