// Test kit of the Iceberg tables: a schemas folder where track_played opts in, Apache Iceberg's REST catalog, and pyiceberg reading a table's windows back (the independent reader).
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIcebergRestCatalog, type IcebergRestCatalog } from '../../services/local-stack/iceberg-rest-catalog.ts';
import { ensurePythonVenv, runPythonScript } from '../helpers/python.ts';
import { TABLE_PYTHON_PACKAGES } from '../helpers/iceberg-python.ts';

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

const READER = String.raw`
import json, sys, datetime
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan
uri, ident, windows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
catalog = load_catalog("rest", type="rest", uri=uri)
try:
    t = catalog.load_table(ident)
except NoSuchTableError:
    print(json.dumps({"exists": False})); sys.exit(0)
m = t.metadata
out = {"exists": True,
       "snapshots": [{"id": str(s.snapshot_id), "parent": None if s.parent_snapshot_id is None else str(s.parent_snapshot_id),
                      "sequence": s.sequence_number, "summary": {k: str(v) for k, v in s.summary.model_dump().items()} | s.summary.additional_properties} for s in m.snapshots],
       "properties": dict(m.properties),
       "schema": [{"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required} for f in t.schema().fields],
       "partitionSpec": [{"source_id": f.source_id, "field_id": f.field_id, "name": f.name, "transform": str(f.transform)} for f in t.spec().fields],
       "windows": {},
       "manifests": [] if t.current_snapshot() is None else [{"path": mf.manifest_path, "added": mf.added_files_count, "existing": mf.existing_files_count,
            "entries": [{"status": e.status.name, "snapshot": str(e.snapshot_id), "sequence": e.sequence_number, "fileSequence": e.file_sequence_number}
                        for e in mf.fetch_manifest_entry(t.io, discard_deleted=False)]} for mf in t.current_snapshot().manifests(t.io)]}
for start, end in windows:
    if m.current_snapshot_id is None:
        out["windows"][start] = []; continue
    # pyiceberg takes ISO 8601 with an offset, not "Z".
    iso = lambda t: t.replace("Z", "+00:00")
    f = And(GreaterThanOrEqual("receive_time", iso(start)), LessThan("receive_time", iso(end)))
    rows = t.scan(row_filter=f, selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist()
    out["windows"][start] = sorted(rows)
print(json.dumps(out))
`;

export async function readTable(uri: string, identifier: string, windows: ReadonlyArray<readonly [string, string]> = []): Promise<TableRead> {
  const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
  return JSON.parse(await runPythonScript(python, READER, [uri, identifier, JSON.stringify(windows)])) as TableRead;
}
