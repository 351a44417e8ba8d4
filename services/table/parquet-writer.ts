// Writes an hour's records as one Parquet data file whose columns carry their Iceberg field ids, row group by row group, with hyparquet-writer.
//
// Why hyparquet-writer: it is plain JavaScript (no WebAssembly or native build), writes field_id into
// each column's schema element (Iceberg readers resolve columns by it, not by name), and takes row
// groups one at a time, so the decoded records held are one row group's, never the part's. The file
// itself is built in memory (the storage layer writes whole objects): about 0.54 × the Avro part
// (measured on track_played, bench/table.bench.ts), so a 256-MiB part costs ~140 MiB while it
// converts. Snappy, the codec every Parquet reader has, is built in.
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import type { HourColumn, IcebergPrimitive } from './iceberg-schema.ts';

/** Rows per row group (and per page flush); ~10 MB of columns for typical events. */
export const DEFAULT_ROW_GROUP_ROWS = 65_536;

export interface ParquetFile {
  readonly bytes: Uint8Array;
  readonly records: number;
}

function leaf(column: HourColumn): SchemaElement {
  const base = { name: column.field.name, field_id: column.field.id, repetition_type: column.field.required ? 'REQUIRED' : 'OPTIONAL' } as const;
  const byType: Record<IcebergPrimitive, Omit<SchemaElement, 'name'>> = {
    string: { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
    binary: { type: 'BYTE_ARRAY' },
    long: { type: 'INT64' },
    int: { type: 'INT32' },
    boolean: { type: 'BOOLEAN' },
    double: { type: 'DOUBLE' },
    float: { type: 'FLOAT' },
    timestamptz: { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
    timestamp: { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } },
    date: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
  };
  return { ...byType[column.field.type], ...base } as SchemaElement;
}

/** The Parquet schema of an hour's columns: a root and one leaf per column. */
export function parquetSchema(columns: readonly HourColumn[]): SchemaElement[] {
  return [{ name: 'table', num_children: columns.length }, ...columns.map(leaf)];
}

/** One column's value of a decoded record, as hyparquet-writer takes it (bigint for 64-bit integers). */
function columnValue(column: HourColumn, record: Record<string, unknown>): unknown {
  const v = record[column.avroName];
  if (v === null || v === undefined) {
    if (column.field.required) throw new Error(`record has no value for required column "${column.field.name}"`);
    return null;
  }
  switch (column.field.type) {
    case 'long':
    case 'timestamptz':
    case 'timestamp': {
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new Error(`column "${column.field.name}": expected a number, got ${typeof v}`);
      const n = BigInt(v);
      return column.scale === 'millis-to-micros' ? n * 1000n : n;
    }
    default:
      return v;
  }
}

/** Builds one Parquet file from batches of decoded records, flushing a row group every `rowGroupRows` rows. */
export class HourParquetWriter {
  readonly #columns: readonly HourColumn[];
  readonly #writer: ByteWriter;
  readonly #parquet: ParquetWriter;
  readonly #rowGroupRows: number;
  #pending: unknown[][];
  #pendingRows = 0;
  #records = 0;

  constructor(columns: readonly HourColumn[], options: { readonly rowGroupRows?: number; readonly kvMetadata?: Record<string, string> } = {}) {
    if (columns.length === 0) throw new Error('a Parquet file needs at least one column');
    this.#columns = columns;
    this.#rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!Number.isSafeInteger(this.#rowGroupRows) || this.#rowGroupRows < 1) throw new RangeError(`rowGroupRows must be a positive integer, got ${this.#rowGroupRows}`);
    this.#writer = new ByteWriter();
    this.#parquet = new ParquetWriter({
      writer: this.#writer,
      schema: parquetSchema(columns),
      codec: 'SNAPPY',
      // Whole values in min/max: a truncated bound would make a reader skip a row group it needs.
      statisticsTruncateLength: Infinity,
      createdBy: 'hourglass table committer (hyparquet-writer)',
      kvMetadata: Object.entries(options.kvMetadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    this.#pending = columns.map(() => []);
  }

  /** Adds records (as avsc decodes them: field name to value, logical types not applied). */
  add(records: readonly unknown[]): void {
    for (const r of records) {
      const record = r as Record<string, unknown>;
      for (let c = 0; c < this.#columns.length; c++) this.#pending[c]!.push(columnValue(this.#columns[c]!, record));
      this.#records++;
      if (++this.#pendingRows === this.#rowGroupRows) this.#flush();
    }
  }

  #flush(): void {
    if (this.#pendingRows === 0) return;
    const columnData = this.#columns.map((c, i) => ({ name: c.field.name, data: this.#pending[i]!, nullable: !c.field.required }));
    void this.#parquet.write({ columnData, rowGroupSize: this.#pendingRows });
    this.#pending = this.#columns.map(() => []);
    this.#pendingRows = 0;
  }

  /** Flushes the last row group and returns the file. */
  finish(): ParquetFile {
    this.#flush();
    void this.#parquet.finish();
    return { bytes: this.#writer.getBytes(), records: this.#records };
  }
}
