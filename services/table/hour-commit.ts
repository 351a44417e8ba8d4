// Commits one closed window to its type's Iceberg table: Parquet beside the canonical Avro, one manifest, one append snapshot carrying the window's proof — once, however often it is asked.
//
// Order of work, and why a crash anywhere is safe:
//   1. load (or create) the table; a window already committed ends here (a replay adds nothing);
//   2. read the window's _MANIFEST.json, check its SHA-256 against the closed-window event;
//   3. evolve the table schema if the hour's Avro schema has new fields (a commit of its own);
//   4. convert each closed Avro part to one Parquet file, named by its content hash, created once;
//   5. write one manifest of those files (entries inherit snapshot id and sequence number);
//   6. per attempt: a manifest list (the parent's manifests plus this one) and a commit whose
//      requirements are the table's uuid and the main branch's current snapshot. A 409 means another
//      committer moved the branch: reload, and stop if it committed this window, else rebuild on it.
// Files written by an attempt that never commits are unreferenced (not data): a second attempt
// re-creates the same Parquet and manifest names (same bytes), so a crash before the commit leaves no
// second copy of an hour's rows behind.
import { createHash, randomInt } from 'node:crypto';
import type { ClosedManifest } from '../checker/closed-manifest.ts';
import { hasCode } from '../errors/catalogue.ts';
import { layout, windowId } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import { ContainerReader } from '../wire/container-reader.ts';
import { isCodecName } from '../wire/codecs.ts';
import { RecordDecoder } from '../wire/record-decoder.ts';
import { windowOf } from '../wire/window.ts';
import type { WindowClosedEvent } from '../wire/window-closed-event.ts';
import { committedRangeAfter, isCommitted, proofSummary, PROPERTY, snapshotOfWindow } from './hour-table.ts';
import { planSchema, receiveTimeFieldId, UnsupportedSchemaError, type HourColumn, type IcebergSchema } from './iceberg-schema.ts';
import { decodeManifestList, encodeManifest, encodeManifestList, newManifestListEntry, partitionSpec, PARTITION_FIELD_NAME, type DataFileEntry } from './iceberg-manifests.ts';
import { DEFAULT_MERGE_AT, mergeIfLong } from './manifest-merge.ts';
import { HourParquetWriter } from './parquet-writer.ts';
import { CatalogError, uuidv7, type LoadedTable, type RestCatalog, type SnapshotId, type TableMetadata } from './rest-catalog.ts';

export interface HourCommitDeps {
  readonly catalog: RestCatalog;
  readonly namespace: string;
  /** The hourglass bucket, where closed windows are. */
  readonly bucket: Storage;
  /** Opens the storage at a table's location (file:///… or gs://…), where its data and metadata files go. */
  readonly openLocation: (location: string) => Promise<Storage>;
  /** Names this committer in the snapshots it makes. */
  readonly committer: string;
  /** Attempts when other writers keep moving the branch. Default 10. */
  readonly maxAttempts?: number;
  /** Rows per Parquet row group (tests make it small). */
  readonly rowGroupRows?: number;
  /** Manifests a snapshot's list may hold before the small ones are merged (manifest-merge.ts). Default 100, as Iceberg's. */
  readonly mergeManifestsAt?: number;
  /** Called after the data and manifest files are written and before the commit is sent (fault injection). */
  readonly beforeCommit?: () => void | Promise<void>;
}

export type HourCommitOutcome =
  | { readonly outcome: 'committed'; readonly snapshotId: number; readonly attempts: number; readonly records: number; readonly dataFiles: number; readonly convertMs: number }
  | { readonly outcome: 'already-committed'; readonly snapshotId: SnapshotId | undefined };

/** A window that can never be committed as it is (bad schema, a manifest that does not match its event): dead-letter it. */
export class HourRefusedError extends Error {}

/** The window's index, and (with 3600) the Iceberg hour of its start: the wire's windowOf on its start in µs. */
function windowIndex(event: Pick<WindowClosedEvent, 'windowStart'>, lengthS: number): number {
  return windowOf(Date.parse(event.windowStart) * 1000, lengthS);
}

async function readManifest(bucket: Storage, event: WindowClosedEvent): Promise<{ manifest: ClosedManifest; dir: string }> {
  const dir = layout.closed({ type: event.type, index: windowIndex(event, event.windowS), lengthS: event.windowS });
  let bytes: Buffer;
  try {
    bytes = await bucket.get(dir + layout.manifestName);
  } catch (err) {
    if (hasCode(err, 'HG_STORAGE_NOT_FOUND')) throw new HourRefusedError(`${event.dedupKey}: the closed-window event names ${dir}${layout.manifestName}, which is not in ${bucket.location}`);
    throw err;
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== event.manifest.sha256) throw new HourRefusedError(`${event.dedupKey}: ${dir}${layout.manifestName} has SHA-256 ${sha}, the event says ${event.manifest.sha256}`);
  return { manifest: JSON.parse(bytes.toString('utf8')) as ClosedManifest, dir };
}

function currentSchema(m: TableMetadata): IcebergSchema {
  const s = m.schemas.find((x) => x['schema-id'] === m['current-schema-id']);
  if (!s) throw new Error(`table metadata has no schema ${m['current-schema-id']}`);
  return s as unknown as IcebergSchema;
}

function tableName(type: string): string {
  return type;
}

/** Creates the type's table (a racing creator's is loaded instead) with the hour's schema. */
async function create(deps: HourCommitDeps, type: string, avroSchemaJson: string): Promise<LoadedTable> {
  const plan = planSchema(avroSchemaJson, undefined, 0);
  await deps.catalog.ensureNamespace(deps.namespace);
  return deps.catalog.createTable(deps.namespace, {
    name: tableName(type),
    schema: plan.schema,
    'partition-spec': partitionSpec(receiveTimeFieldId(plan.schema)),
    properties: { 'format-version': '2', 'write.format.default': 'parquet', 'hourglass.event-type': type },
  });
}

/** Commits the hour's schema when it adds fields; returns the table as it is afterwards. */
async function evolveSchema(deps: HourCommitDeps, type: string, table: LoadedTable, avroSchemaJson: string): Promise<{ table: LoadedTable; columns: readonly HourColumn[] }> {
  for (let attempt = 1; ; attempt++) {
    const m = table.metadata;
    const plan = planSchema(avroSchemaJson, currentSchema(m), m['last-column-id']);
    if (!plan.evolves) return { table, columns: plan.columns };
    try {
      table = await deps.catalog.commit(
        deps.namespace,
        tableName(type),
        [
          { type: 'assert-table-uuid', uuid: m['table-uuid'] },
          { type: 'assert-current-schema-id', 'current-schema-id': m['current-schema-id'] },
          { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': m['last-column-id'] },
        ],
        [
          { action: 'add-schema', schema: plan.schema, 'last-column-id': plan.lastColumnId },
          { action: 'set-current-schema', 'schema-id': -1 },
        ],
      );
    } catch (err) {
      if (!(err instanceof CatalogError && err.status === 409) || attempt >= (deps.maxAttempts ?? 10)) throw err;
      table = (await deps.catalog.loadTable(deps.namespace, tableName(type))) ?? table;
    }
  }
}

/** Converts one closed Avro part to Parquet and creates it (once, by content hash) under the table's data/. */
async function writeDataFile(deps: HourCommitDeps, location: Storage, locationUri: string, partKey: string, columns: readonly HourColumn[], event: WindowClosedEvent, hour: number): Promise<DataFileEntry> {
  const info = await deps.bucket.stat(partKey);
  if (!info) throw new Error(`${partKey} is listed in its manifest but absent from ${deps.bucket.location}`);
  const reader = await ContainerReader.open(deps.bucket, partKey, info.size);
  const { schemaJson, codec } = reader.header;
  if (!isCodecName(codec)) throw new HourRefusedError(`${partKey}: Avro codec ${codec} is not supported`);
  const decoder = new RecordDecoder(schemaJson, codec);
  const writer = new HourParquetWriter(columns, { rowGroupRows: deps.rowGroupRows, kvMetadata: { 'hourglass.window': event.windowStart, 'hourglass.source': partKey } });
  for await (const block of reader.blocks()) writer.add(decoder.decodeBlock(block.body, block.count));
  const file = writer.finish();
  const part = partKey.slice(partKey.lastIndexOf('/') + 1).replace(/\.avro$/, '');
  const hash = createHash('sha256').update(file.bytes).digest('hex').slice(0, 16);
  const key = `data/${PARTITION_FIELD_NAME}=${hour}/${windowId(windowIndex(event, event.windowS), event.windowS)}-${part}-${hash}.parquet`;
  await location.createOnly(key, file.bytes);
  return { path: `${locationUri}/${key}`, records: file.records, bytes: file.bytes.length, hour };
}

function positiveId(): number {
  // Below 2^53, so JSON numbers and avsc longs carry it exactly.
  return randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
}

function summaryTotals(parent: Record<string, string> | undefined, files: readonly DataFileEntry[]): Record<string, string> {
  // In bigint: Iceberg's counters are longs, and another engine's totals may pass 2^53.
  const total = (key: string) => BigInt(parent?.[key] ?? 0);
  const records = files.reduce((n, f) => n + BigInt(f.records), 0n);
  const bytes = files.reduce((n, f) => n + BigInt(f.bytes), 0n);
  const count = BigInt(files.length);
  return {
    'added-data-files': String(count),
    'added-records': String(records),
    'added-files-size': String(bytes),
    'total-data-files': String(total('total-data-files') + count),
    'total-records': String(total('total-records') + records),
    'total-files-size': String(total('total-files-size') + bytes),
    'total-delete-files': String(total('total-delete-files')),
    'total-position-deletes': String(total('total-position-deletes')),
    'total-equality-deletes': String(total('total-equality-deletes')),
  };
}

/** Commits `event`'s window to its table, or finds it committed already. */
export async function commitHour(deps: HourCommitDeps, event: WindowClosedEvent): Promise<HourCommitOutcome> {
  if (event.windowS > 3600 || 3600 % event.windowS !== 0) throw new HourRefusedError(`${event.dedupKey}: a ${event.windowS} s window does not fit in one hour partition (tables need a window length that divides 3600 s)`);
  // Committed already? Asked before the hour is read: a replay of a committed window needs nothing of the bucket.
  const existing = await deps.catalog.loadTable(deps.namespace, tableName(event.type));
  const committedIn = (t: LoadedTable) => ({ outcome: 'already-committed' as const, snapshotId: snapshotOfWindow(t.metadata, event.windowStart)?.['snapshot-id'] });
  if (existing && isCommitted(existing.metadata, event)) return committedIn(existing);
  if (existing && existing.metadata['format-version'] !== 2) throw new HourRefusedError(`${event.dedupKey}: the table is format version ${existing.metadata['format-version']}; the committer writes version 2 snapshots only`);
  const { manifest, dir } = await readManifest(deps.bucket, event);
  const schemaJson = JSON.stringify(manifest.schema);
  let table: LoadedTable;
  let columns: readonly HourColumn[];
  try {
    table = existing ?? (await create(deps, event.type, schemaJson));
    ({ table, columns } = await evolveSchema(deps, event.type, table, schemaJson));
  } catch (err) {
    if (err instanceof UnsupportedSchemaError) throw new HourRefusedError(`${event.dedupKey}: ${err.message}`, { cause: err });
    throw err;
  }
  const done = () => committedIn(table);
  if (isCommitted(table.metadata, event)) return done();
  const locationUri = table.metadata.location.replace(/\/+$/, '');
  const location = await deps.openLocation(locationUri);
  const hour = windowIndex(event, 3600);
  const started = performance.now();
  const files: DataFileEntry[] = [];
  for (const part of manifest.files) files.push(await writeDataFile(deps, location, locationUri, dir + part.name, columns, event, hour));
  const records = files.reduce((n, f) => n + f.records, 0);
  if (records !== manifest.events) throw new HourRefusedError(`${event.dedupKey}: the parts hold ${records} records, the manifest says ${manifest.events}`);
  const convertMs = performance.now() - started;
  const schema = currentSchema(table.metadata);
  let manifestEntry: { path: string; length: number } | undefined;
  if (files.length > 0) {
    const bytes = encodeManifest(files, schema, receiveTimeFieldId(schema));
    const key = `metadata/hg-${windowId(windowIndex(event, event.windowS), event.windowS)}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}-m0.avro`;
    await location.createOnly(key, bytes);
    manifestEntry = { path: `${locationUri}/${key}`, length: bytes.length };
  }
  await deps.beforeCommit?.();

  const maxAttempts = deps.maxAttempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    const m = table.metadata;
    if (isCommitted(m, event)) return done();
    const parentId = m['current-snapshot-id'] === undefined || m['current-snapshot-id'] === null || m['current-snapshot-id'] === -1 ? null : m['current-snapshot-id'];
    const parent = parentId === null ? undefined : m.snapshots?.find((s) => s['snapshot-id'] === parentId);
    // Building on a parent the metadata does not show would list none of its files: the table would lose its data.
    if (parentId !== null && !parent) throw new Error(`${event.dedupKey}: the table's current snapshot ${parentId} is not among its snapshots (a catalog that loads only refs?)`);
    const snapshotId = positiveId();
    const sequenceNumber = (m['last-sequence-number'] ?? 0) + 1;
    const parentList = parent ? decodeManifestList(await location.get(keyUnder(locationUri, parent['manifest-list']))) : [];
    // The parent's manifests, the small ones merged once there are too many; this window's own manifest is never
    // merged in the snapshot that adds it (its files stay ADDED there, for readers of what a snapshot added).
    const inherited = await mergeIfLong(parentList, {
      mergeAt: (deps.mergeManifestsAt ?? DEFAULT_MERGE_AT) - 1,
      snapshotId,
      sequenceNumber,
      schema,
      receiveTimeId: receiveTimeFieldId(schema),
      read: (uri) => location.get(keyUnder(locationUri, uri)),
      write: async (bytes) => {
        const key = `metadata/hg-merged-${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}-m0.avro`;
        await location.createOnly(key, bytes);
        return `${locationUri}/${key}`;
      },
    });
    const entries = manifestEntry ? [newManifestListEntry(manifestEntry.path, manifestEntry.length, files, snapshotId, sequenceNumber), ...inherited] : inherited;
    const listKey = `metadata/snap-${snapshotId}-1-${uuidv7()}.avro`;
    await location.createOnly(listKey, encodeManifestList(entries, snapshotId, parentId, sequenceNumber));
    const range = committedRangeAfter(m, event);
    try {
      table = await deps.catalog.commit(
        deps.namespace,
        tableName(event.type),
        [
          { type: 'assert-table-uuid', uuid: m['table-uuid'] },
          { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': parentId },
        ],
        [
          {
            action: 'add-snapshot',
            snapshot: {
              'snapshot-id': snapshotId,
              ...(parentId === null ? {} : { 'parent-snapshot-id': parentId }),
              'sequence-number': sequenceNumber,
              'timestamp-ms': Date.now(),
              'manifest-list': `${locationUri}/${listKey}`,
              summary: { operation: 'append', ...summaryTotals(parent?.summary, files), ...proofSummary(event, deps.committer) },
              'schema-id': schema['schema-id'],
            },
          },
          { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshotId },
          { action: 'set-properties', updates: { [PROPERTY.windowS]: String(event.windowS), [PROPERTY.firstWindow]: range.firstWindow, [PROPERTY.closedThrough]: range.closedThrough } },
        ],
      );
      return { outcome: 'committed', snapshotId, attempts: attempt, records, dataFiles: files.length, convertMs };
    } catch (err) {
      // The list this attempt wrote is referenced by nothing unless the commit landed.
      const conflict = err instanceof CatalogError && err.status === 409;
      const unknown = !(err instanceof CatalogError) || err.status >= 500;
      if ((!conflict && !unknown) || attempt >= maxAttempts) throw err;
      const reloaded = await deps.catalog.loadTable(deps.namespace, tableName(event.type));
      if (!reloaded) throw err;
      table = reloaded;
      if (!conflict) await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
    }
  }
}

/** The key under the table's location of a file URI the table's metadata names. */
function keyUnder(locationUri: string, uri: string): string {
  if (!uri.startsWith(`${locationUri}/`)) throw new Error(`${uri} is not under the table location ${locationUri}`);
  return uri.slice(locationUri.length + 1);
}
