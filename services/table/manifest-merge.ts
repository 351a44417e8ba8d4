// Keeps a table's manifest list short: once it holds more than `mergeAt` manifests, the small data manifests are merged into one of EXISTING entries.
//
// An append adds one manifest per window (fast append), and every commit rewrites the whole list, and every reader plans
// over every manifest in it: without merging, a year of hourly windows is 8,760 manifests. Apache Iceberg's Java writer
// merges at 100 (commit.manifest.min-count-to-merge) into manifests of up to 8 MiB (commit.manifest.target-size-bytes);
// this does the same. Merged entries keep what they inherited, written out: the snapshot that added the file and its data
// and file sequence numbers, so the merge changes nothing a reader sees (Iceberg's spec, "Manifest Entry Fields",
// inheritance). Manifests of delete files, of another partition spec, or already of the target size are left as they are.
import { dataFileRecord, decodeIcebergAvro, encodeManifestEntries, PARTITION_FIELD_NAME, PARTITION_SPEC_ID, partitionSummary, safeOrBig, type ManifestEntryRecord, type ManifestListEntry } from './iceberg-manifests.ts';
import type { IcebergSchema } from './iceberg-schema.ts';

export const DEFAULT_MERGE_AT = 100;
export const TARGET_MANIFEST_BYTES = 8 * 1024 * 1024;

export interface MergeContext {
  readonly mergeAt: number;
  readonly snapshotId: number | bigint;
  readonly sequenceNumber: number;
  readonly schema: IcebergSchema;
  readonly receiveTimeId: number;
  readonly read: (manifestPath: string) => Promise<Buffer>;
  /** Writes a merged manifest (create-only, named by its content); returns its path. */
  readonly write: (bytes: Buffer) => Promise<string>;
}

/** The list to commit: `entries` as they are, or with its small data manifests merged into one, first. */
export async function mergeIfLong(entries: readonly ManifestListEntry[], ctx: MergeContext): Promise<ManifestListEntry[]> {
  if (entries.length <= ctx.mergeAt) return [...entries];
  const small = entries.filter((e) => e.content === 0 && e.partition_spec_id === PARTITION_SPEC_ID && e.manifest_length < TARGET_MANIFEST_BYTES);
  if (small.length < 2) return [...entries];
  const merged: ManifestEntryRecord[] = [];
  for (const manifest of small) {
    for (const entry of decodeIcebergAvro(await ctx.read(manifest.manifest_path))) {
      const status = Number(entry.status);
      // A DELETED entry only says what an older snapshot removed: it is not carried into a merged manifest.
      if (status === 2) continue;
      const added = status === 1;
      const inherit = (own: unknown, fromList: number | bigint): bigint => (own !== null && own !== undefined ? BigInt(own as bigint) : BigInt(fromList));
      const sequence = entry.sequence_number ?? (added ? undefined : null);
      if (sequence === null) throw new Error(`${manifest.manifest_path}: an EXISTING entry without a sequence number`);
      merged.push({
        status: 0,
        snapshot_id: inherit(entry.snapshot_id, manifest.added_snapshot_id),
        sequence_number: inherit(entry.sequence_number, manifest.sequence_number),
        file_sequence_number: inherit(entry.file_sequence_number ?? (added ? undefined : entry.sequence_number), manifest.sequence_number),
        data_file: dataFileRecord(entry.data_file as Record<string, unknown>),
      });
    }
  }
  const bytes = encodeManifestEntries(merged, ctx.schema, ctx.receiveTimeId);
  const path = await ctx.write(bytes);
  const hours = merged.map((e) => {
    const h = (e.data_file.partition as Record<string, unknown>)[PARTITION_FIELD_NAME];
    return typeof h === 'number' ? h : null;
  });
  const rows = merged.reduce((n, e) => n + BigInt(e.data_file.record_count as bigint), 0n);
  const sequences = merged.map((e) => e.sequence_number as bigint);
  const entry: ManifestListEntry = {
    manifest_path: path,
    manifest_length: bytes.length,
    partition_spec_id: PARTITION_SPEC_ID,
    content: 0,
    sequence_number: ctx.sequenceNumber,
    min_sequence_number: sequences.length > 0 ? Number(sequences.reduce((a, b) => (b < a ? b : a))) : ctx.sequenceNumber,
    added_snapshot_id: ctx.snapshotId,
    added_files_count: 0,
    existing_files_count: merged.length,
    deleted_files_count: 0,
    added_rows_count: 0,
    existing_rows_count: safeOrBig(rows),
    deleted_rows_count: 0,
    partitions: [partitionSummary(hours)],
    key_metadata: null,
  };
  const mergedPaths = new Set(small.map((e) => e.manifest_path));
  return [entry, ...entries.filter((e) => !mergedPaths.has(e.manifest_path))];
}
