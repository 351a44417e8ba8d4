// Iceberg v2 manifest files and manifest lists (Avro), written as the spec and Apache Iceberg's Java writer lay them out, and parent manifest lists read back.
//
// The Avro schemas below are the spec's `manifest_entry` (with its `data_file` struct) and `manifest_file`
// as Apache Iceberg's V2Metadata writes them (core/src/main/java/org/apache/iceberg/V2Metadata.java,
// DataFile.java, ManifestFile.java): the same field names, field ids, nullability and map encoding
// (maps with int keys as arrays of k<id>_v<id> records). Readers resolve these files by field id, so
// the ids are the contract. Entries of an append are ADDED with a null snapshot id and null sequence
// numbers: readers inherit them from the manifest list, so one manifest serves every commit attempt.
import { inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { ContainerWriter, parseContainer } from '../wire/avro-container.ts';
import { compressBlock, decompressBlock, isCodecName } from '../wire/codecs.ts';
import type { IcebergSchema } from './iceberg-schema.ts';

/** The hour partition: hour(receive_time), one spec (id 0) for the life of the table. */
export const PARTITION_SPEC_ID = 0;
export const PARTITION_FIELD_ID = 1000;
export const PARTITION_FIELD_NAME = 'receive_time_hour';

export function partitionSpec(receiveTimeId: number): { 'spec-id': number; fields: Array<Record<string, unknown>> } {
  return { 'spec-id': PARTITION_SPEC_ID, fields: [{ name: PARTITION_FIELD_NAME, transform: 'hour', 'source-id': receiveTimeId, 'field-id': PARTITION_FIELD_ID }] };
}

const optional = (name: string, type: avro.Schema, fieldId: number) => ({ name, type: ['null', type], default: null, 'field-id': fieldId });
const intMap = (name: string, fieldId: number, keyId: number, valueId: number, valueType: 'long' | 'bytes') =>
  optional(name, { type: 'array', logicalType: 'map', items: { type: 'record', name: `k${keyId}_v${valueId}`, fields: [{ name: 'key', type: 'int', 'field-id': keyId }, { name: 'value', type: valueType, 'field-id': valueId }] } } as unknown as avro.Schema, fieldId);

export const MANIFEST_ENTRY_SCHEMA = {
  type: 'record',
  name: 'manifest_entry',
  fields: [
    { name: 'status', type: 'int', 'field-id': 0 },
    optional('snapshot_id', 'long', 1),
    optional('sequence_number', 'long', 3),
    optional('file_sequence_number', 'long', 4),
    {
      name: 'data_file',
      'field-id': 2,
      type: {
        type: 'record',
        name: 'r2',
        fields: [
          { name: 'content', type: 'int', doc: 'Contents of the file: 0=data, 1=position deletes, 2=equality deletes', 'field-id': 134 },
          { name: 'file_path', type: 'string', doc: 'Location URI with FS scheme', 'field-id': 100 },
          { name: 'file_format', type: 'string', doc: 'File format name: avro, orc, or parquet', 'field-id': 101 },
          {
            name: 'partition',
            doc: 'Partition data tuple, schema based on the partition spec',
            'field-id': 102,
            type: { type: 'record', name: 'r102', fields: [optional(PARTITION_FIELD_NAME, 'int', PARTITION_FIELD_ID)] },
          },
          { name: 'record_count', type: 'long', doc: 'Number of records in the file', 'field-id': 103 },
          { name: 'file_size_in_bytes', type: 'long', doc: 'Total file size in bytes', 'field-id': 104 },
          intMap('column_sizes', 108, 117, 118, 'long'),
          intMap('value_counts', 109, 119, 120, 'long'),
          intMap('null_value_counts', 110, 121, 122, 'long'),
          intMap('nan_value_counts', 137, 138, 139, 'long'),
          intMap('lower_bounds', 125, 126, 127, 'bytes'),
          intMap('upper_bounds', 128, 129, 130, 'bytes'),
          optional('key_metadata', 'bytes', 131),
          optional('split_offsets', { type: 'array', items: 'long', 'element-id': 133 } as unknown as avro.Schema, 132),
          optional('equality_ids', { type: 'array', items: 'int', 'element-id': 136 } as unknown as avro.Schema, 135),
          optional('sort_order_id', 'int', 140),
          optional('referenced_data_file', 'string', 143),
        ],
      },
    },
  ],
} as const;

export const MANIFEST_LIST_SCHEMA = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', doc: 'Location URI with FS scheme', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', doc: 'Total file size in bytes', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', doc: 'Spec ID used to write', 'field-id': 502 },
    { name: 'content', type: 'int', doc: 'Contents of the manifest: 0=data, 1=deletes', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', doc: 'Sequence number when the manifest was added', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', doc: 'Lowest sequence number in the manifest', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', doc: 'Snapshot ID that added the manifest', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', doc: 'Added entry count', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', doc: 'Existing entry count', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', doc: 'Deleted entry count', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', doc: 'Added rows count', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', doc: 'Existing rows count', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', doc: 'Deleted rows count', 'field-id': 514 },
    optional(
      'partitions',
      {
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', doc: 'True if any file has a null partition value', 'field-id': 509 },
            optional('contains_nan', 'boolean', 518),
            optional('lower_bound', 'bytes', 510),
            optional('upper_bound', 'bytes', 511),
          ],
        },
      } as unknown as avro.Schema,
      507,
    ),
    optional('key_metadata', 'bytes', 519),
  ],
} as const;

/**
 * Avro longs as bigint in manifest lists: a snapshot id another engine wrote uses all 64 bits, and avsc's
 * default long would round it (a parent's manifests re-listed under a wrong added_snapshot_id).
 */
const exactLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (n: number | string) => BigInt(n),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});
/** Fresh each time: avsc adds a schema's named types to the registry it is given. */
const exact = () => ({ registry: { long: exactLong } }) as unknown as Partial<avro.ForSchemaOptions>;
const entryType = avro.Type.forSchema(MANIFEST_ENTRY_SCHEMA as unknown as avro.Schema, exact());
const listType = avro.Type.forSchema(MANIFEST_LIST_SCHEMA as unknown as avro.Schema, exact());

export interface DataFileEntry {
  /** Full URI of the Parquet file (file:///… or gs://…). */
  readonly path: string;
  readonly records: number;
  readonly bytes: number;
  /** Hours since the epoch of the file's receive_time values (all of a file's records are in one hour). */
  readonly hour: number;
}

/** One row of a manifest list, as this module writes it and reads a parent's. */
export interface ManifestListEntry {
  readonly manifest_path: string;
  readonly manifest_length: number;
  readonly partition_spec_id: number;
  readonly content: number;
  readonly sequence_number: number;
  readonly min_sequence_number: number;
  readonly added_snapshot_id: number | bigint;
  readonly added_files_count: number;
  readonly existing_files_count: number;
  readonly deleted_files_count: number;
  readonly added_rows_count: number | bigint;
  readonly existing_rows_count: number | bigint;
  readonly deleted_rows_count: number | bigint;
  readonly partitions: Array<{ contains_null: boolean; contains_nan: boolean | null; lower_bound: Buffer | null; upper_bound: Buffer | null }> | null;
  readonly key_metadata: Buffer | null;
}

function container(schema: object, meta: Record<string, string>, records: readonly unknown[], type: avro.Type): Buffer {
  const writer = new ContainerWriter({ schemaJson: JSON.stringify(schema), codec: 'deflate', meta });
  if (records.length > 0) writer.appendBlock(records.length, compressBlock('deflate', Buffer.concat(records.map((r) => type.toBuffer(r)))));
  return writer.toBuffer();
}

/** The single-value serialization of an int partition value (4 bytes, little-endian), as bounds use it. */
export function intBound(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** One `manifest_entry` as avsc takes it for MANIFEST_ENTRY_SCHEMA (longs as bigint). */
export type ManifestEntryRecord = Record<string, unknown> & { status: number; data_file: Record<string, unknown> };

const DATA_FILE_FIELDS = (MANIFEST_ENTRY_SCHEMA.fields[4].type.fields as ReadonlyArray<{ name: string }>).map((f) => f.name);

/** A data file entry as a manifest holds it: every field of the spec's data_file, absent ones null. */
export function dataFileRecord(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(DATA_FILE_FIELDS.map((name) => [name, fields[name] ?? null]));
}

/** A manifest of the given entries, with the table's schema and the hour partition spec in its metadata. */
export function encodeManifestEntries(entries: readonly ManifestEntryRecord[], schema: IcebergSchema, receiveTimeId: number): Buffer {
  const spec = partitionSpec(receiveTimeId);
  const meta = {
    schema: JSON.stringify(schema),
    'schema-id': String(schema['schema-id']),
    'partition-spec': JSON.stringify(spec.fields),
    'partition-spec-id': String(PARTITION_SPEC_ID),
    'format-version': '2',
    content: 'data',
  };
  return container(MANIFEST_ENTRY_SCHEMA, meta, entries, entryType);
}

/** A manifest of ADDED data files (snapshot id and sequence numbers inherited from the manifest list). */
export function encodeManifest(files: readonly DataFileEntry[], schema: IcebergSchema, receiveTimeId: number): Buffer {
  const entries = files.map((f) => ({
    status: 1,
    snapshot_id: null,
    sequence_number: null,
    file_sequence_number: null,
    data_file: dataFileRecord({
      content: 0,
      file_path: f.path,
      file_format: 'PARQUET',
      partition: { [PARTITION_FIELD_NAME]: f.hour },
      record_count: BigInt(f.records),
      file_size_in_bytes: BigInt(f.bytes),
    }),
  }));
  return encodeManifestEntries(entries, schema, receiveTimeId);
}

/** The manifest list's summary of the hour partition over a manifest's files (their hours; null where a file has none). */
export function partitionSummary(hours: ReadonlyArray<number | null>): NonNullable<ManifestListEntry['partitions']>[number] {
  const present = hours.filter((h): h is number => h !== null);
  // A loop, not Math.min(...): a merged manifest may list more files than a call takes arguments.
  let low = Infinity;
  let high = -Infinity;
  for (const h of present) {
    if (h < low) low = h;
    if (h > high) high = h;
  }
  return {
    contains_null: present.length !== hours.length,
    contains_nan: false,
    lower_bound: present.length > 0 ? intBound(low) : null,
    upper_bound: present.length > 0 ? intBound(high) : null,
  };
}

/** The manifest list row of a new manifest of ADDED files, committed by `snapshotId` at `sequenceNumber`. */
export function newManifestListEntry(path: string, length: number, files: readonly DataFileEntry[], snapshotId: number | bigint, sequenceNumber: number): ManifestListEntry {
  const hours = files.map((f) => f.hour);
  return {
    manifest_path: path,
    manifest_length: length,
    partition_spec_id: PARTITION_SPEC_ID,
    content: 0,
    sequence_number: sequenceNumber,
    min_sequence_number: sequenceNumber,
    added_snapshot_id: snapshotId,
    added_files_count: files.length,
    existing_files_count: 0,
    deleted_files_count: 0,
    added_rows_count: safeOrBig(files.reduce((n, f) => n + BigInt(f.records), 0n)),
    existing_rows_count: 0,
    deleted_rows_count: 0,
    partitions: [partitionSummary(hours)],
    key_metadata: null,
  };
}

export function encodeManifestList(entries: readonly ManifestListEntry[], snapshotId: number | bigint, parentSnapshotId: number | bigint | null, sequenceNumber: number): Buffer {
  const meta = {
    'snapshot-id': String(snapshotId),
    'parent-snapshot-id': parentSnapshotId === null ? 'null' : String(parentSnapshotId),
    'sequence-number': String(sequenceNumber),
    'format-version': '2',
  };
  const longs = ['manifest_length', 'sequence_number', 'min_sequence_number', 'added_snapshot_id', 'added_rows_count', 'existing_rows_count', 'deleted_rows_count'] as const;
  const exactEntries = entries.map((e) => ({ ...e, ...Object.fromEntries(longs.map((k) => [k, BigInt(e[k])])) }));
  return container(MANIFEST_LIST_SCHEMA, meta, exactEntries, listType);
}

/** A long as a number when it fits exactly, else the bigint. */
export function safeOrBig(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/**
 * Every record of an Avro container another Iceberg writer may have made (this one, Java, pyiceberg), decoded with its
 * own schema, longs as bigint. pyiceberg's deflate blocks end with 3 stray bytes (it strips zlib's 2-byte header and
 * only 1 of the 4 bytes of its Adler-32: pyiceberg/avro/codecs/deflate.py); Java's Inflater and zlib stop at the
 * stream's end, and so does this.
 */
export function decodeIcebergAvro(file: Buffer): Array<Record<string, unknown>> {
  const { header, blocks } = parseContainer(file);
  if (!isCodecName(header.codec)) throw new Error(`Avro codec ${header.codec} is not supported`);
  const writerType = avro.Type.forSchema(JSON.parse(header.schemaJson) as avro.Schema, exact());
  const out: Array<Record<string, unknown>> = [];
  for (const block of blocks) {
    const data = header.codec === 'deflate' ? inflateRawSync(block.body) : decompressBlock(header.codec, block.body);
    let pos = 0;
    for (let i = 0; i < block.count; i++) {
      const { value, offset } = writerType.decode(data, pos);
      if (offset < 0) throw new Error('an Avro block ends inside a record');
      pos = offset;
      out.push(value as Record<string, unknown>);
    }
  }
  return out;
}

/** Reads a manifest list written by any v2 writer (this one, Java, pyiceberg), keeping the fields a v2 list carries. */
export function decodeManifestList(file: Buffer): ManifestListEntry[] {
  return decodeIcebergAvro(file).map((r) => {
    const seq = Number(r.sequence_number ?? 0);
    return {
      manifest_path: String(r.manifest_path),
      manifest_length: Number(r.manifest_length),
      partition_spec_id: Number(r.partition_spec_id),
      content: Number(r.content ?? 0),
      sequence_number: seq,
      min_sequence_number: Number(r.min_sequence_number ?? seq),
      added_snapshot_id: safeOrBig(r.added_snapshot_id as bigint),
      added_files_count: Number(r.added_files_count ?? r.added_data_files_count ?? 0),
      existing_files_count: Number(r.existing_files_count ?? r.existing_data_files_count ?? 0),
      deleted_files_count: Number(r.deleted_files_count ?? r.deleted_data_files_count ?? 0),
      added_rows_count: safeOrBig((r.added_rows_count as bigint | undefined) ?? 0n),
      existing_rows_count: safeOrBig((r.existing_rows_count as bigint | undefined) ?? 0n),
      deleted_rows_count: safeOrBig((r.deleted_rows_count as bigint | undefined) ?? 0n),
      partitions: (r.partitions as ManifestListEntry['partitions']) ?? null,
      key_metadata: (r.key_metadata as Buffer | null) ?? null,
    };
  });
}
