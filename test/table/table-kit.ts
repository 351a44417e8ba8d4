// Test kit of the Iceberg tables: a schemas folder where track_played opts in, Apache Iceberg's REST catalog, and pyiceberg reading a table's windows back (the independent reader).
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startIcebergRestCatalog, type IcebergRestCatalog } from '../../services/local-stack/iceberg-rest-catalog.ts';
import { ensurePythonVenv } from '../helpers/python.ts';
import { TABLE_PYTHON_PACKAGES } from '../helpers/iceberg-python.ts';

const run = promisify(execFile);
const SCHEMAS = fileURLToPath(new URL('../../schemas/', import.meta.url));

export interface TableKit {
  readonly dir: string;
  /** The shipped schemas, with `"table": true` in track_played's type.json (and no other). */
  readonly schemasDir: string;
  readonly catalog: IcebergRestCatalog;
  stop(): Promise<void>;
}

export async function startTableKit(): Promise<TableKit> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-tables-'));
  const schemasDir = path.join(dir, 'schemas');
  await cp(SCHEMAS, schemasDir, { recursive: true });
  const typeFile = path.join(schemasDir, 'track_played', 'type.json');
  await writeFile(typeFile, JSON.stringify({ ...JSON.parse(await readFile(typeFile, 'utf8')), table: true }, null, 2));
  const catalog = await startIcebergRestCatalog({ warehouseDir: path.join(dir, 'warehouse'), catalogDbFile: path.join(dir, 'catalog.db') });
  return {
    dir,
    schemasDir,
    catalog,
    async stop() {
      await catalog.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A table as pyiceberg reads it: its snapshots, properties, schema, and each asked window's rows (current snapshot, receive_time in [start, end)). */
export interface TableRead {
  readonly exists: boolean;
  readonly snapshots: Array<{ id: string; parent: string | null; sequence: number; summary: Record<string, string> }>;
  readonly properties: Record<string, string>;
  readonly schema: Array<{ id: number; name: string; type: string; required: boolean }>;
  readonly partitionSpec: Array<{ source_id: number; field_id: number; name: string; transform: string }>;
  /** The current snapshot's manifests: ADDED and EXISTING files in each. */
  readonly manifests: Array<{ path: string; added: number; existing: number; entries: Array<{ status: string; snapshot: string; sequence: number; fileSequence: number }> }>;
  /** By window start: the event ids of the window's rows, sorted. */
  readonly windows: Record<string, string[]>;
}

/** The shared independent reader (pyiceberg), whose output readTable maps. */
const READER = fileURLToPath(new URL('../helpers/iceberg_read.py', import.meta.url));

interface ReaderOutput {
  readonly exists: boolean;
  readonly snapshots: Array<{ snapshot_id: string; parent_snapshot_id: string | null; sequence_number: number; summary: Record<string, unknown> }>;
  readonly properties: Record<string, string>;
  readonly schema: { fields: TableRead['schema'] };
  readonly partition_spec: { fields: TableRead['partitionSpec'] };
  readonly windows: Record<string, string[]>;
  readonly manifests: TableRead['manifests'];
}

export async function readTable(uri: string, identifier: string, windows: ReadonlyArray<readonly [string, string]> = []): Promise<TableRead> {
  const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
  const { stdout } = await run(python, [READER, '--uri', uri, '--table', identifier, '--windows', JSON.stringify(windows)], { maxBuffer: 256 * 1024 * 1024 });
  const out = JSON.parse(stdout) as ReaderOutput;
  if (!out.exists) return { exists: false, snapshots: [], properties: {}, schema: [], partitionSpec: [], windows: {}, manifests: [] };
  return {
    exists: true,
    // Summary values as strings, as Iceberg keeps them (the operation is printed as its enum's name otherwise).
    snapshots: out.snapshots.map((s) => ({ id: s.snapshot_id, parent: s.parent_snapshot_id, sequence: s.sequence_number, summary: Object.fromEntries(Object.entries(s.summary).map(([k, v]) => [k, String(v)])) })),
    properties: out.properties,
    schema: out.schema.fields,
    partitionSpec: out.partition_spec.fields,
    windows: out.windows,
    manifests: out.manifests,
  };
}
