// Apache Iceberg's own REST catalog server (services/local-stack/iceberg-rest-catalog.ts) on loopback: a v2 table made over plain REST, appended to with pyiceberg, read back by test/helpers/iceberg_read.py; the catalog outlives a restart on its sqlite file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startIcebergRestCatalog, type IcebergRestCatalog } from '../../services/local-stack/iceberg-rest-catalog.ts';
import { groupAlive } from '../../services/local-stack/process-group.ts';
import { runPythonScript } from '../helpers/python.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = path.join(REPO, '.cache', 'venv', 'bin', 'python');
const READER = path.join(REPO, 'test', 'helpers', 'iceberg_read.py');

const SCHEMA = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'event_id', type: 'string', required: true },
    { id: 2, name: 'event_type', type: 'string', required: false },
    { id: 3, name: 'receive_time', type: 'timestamptz', required: true },
  ],
};

interface Row {
  event_id: string;
  event_type: string;
  receive_time: string;
}

/** Snapshot ids as strings: they are 64-bit (JSON.parse would round them). */
interface Snapshot {
  snapshot_id: string;
  parent_snapshot_id: string | null;
  sequence_number: number;
  timestamp_ms: number;
  summary: Record<string, string>;
}

interface Read {
  format_version: number;
  current_snapshot_id: string | null;
  snapshots: Snapshot[];
  properties: Record<string, string>;
  schema: { fields: { id: number; name: string; type: string; required: boolean }[] };
  partition_spec: { fields: { source_id: number; field_id: number; name: string; transform: string }[] };
  scan: { snapshot_id: string | null; row_count: number; event_ids: string[] };
}

// pyiceberg writes; its files land in the warehouse and the commit goes through the catalog.
const APPEND = String.raw`
import datetime, json, sys
import pyarrow as pa
from pyiceberg.catalog import load_catalog
uri, table_name, rows, props = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
schema = pa.schema([pa.field("event_id", pa.string(), nullable=False), pa.field("event_type", pa.string()),
                    pa.field("receive_time", pa.timestamp("us", tz="UTC"), nullable=False)])
for row in rows:
    row["receive_time"] = datetime.datetime.fromisoformat(row["receive_time"].replace("Z", "+00:00"))
table = load_catalog("rest", type="rest", uri=uri).load_table(table_name)
table.append(pa.Table.from_pylist(rows, schema=schema), snapshot_properties=props)
print(table.current_snapshot().snapshot_id)
`;

async function rest(catalog: IcebergRestCatalog, method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${catalog.uri}/v1/${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} /v1/${route}: ${res.status} ${text}\n${catalog.logTail()}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Namespace hg and table hg.events: format version 2, partitioned by hour(receive_time). */
async function createEventsTable(catalog: IcebergRestCatalog): Promise<Record<string, unknown>> {
  await rest(catalog, 'POST', 'namespaces', { namespace: ['hg'], properties: {} });
  return rest(catalog, 'POST', 'namespaces/hg/tables', {
    name: 'events',
    schema: SCHEMA,
    'partition-spec': { 'spec-id': 0, fields: [{ 'source-id': 3, 'field-id': 1000, name: 'receive_hour', transform: 'hour' }] },
    properties: { 'format-version': '2', 'hourglass.event-type': 'track_played' },
  });
}

/** Appends the rows in one commit; returns the new snapshot's id. */
async function append(catalog: IcebergRestCatalog, rows: Row[], props: Record<string, string> = {}): Promise<string> {
  return (await runPythonScript(PYTHON, APPEND, [catalog.uri, 'hg.events', JSON.stringify(rows), JSON.stringify(props)])).trim();
}

async function read(catalog: IcebergRestCatalog, ...args: string[]): Promise<Read> {
  try {
    const { stdout } = await run(PYTHON, [READER, '--uri', catalog.uri, '--warehouse', catalog.warehouse, '--table', 'hg.events', ...args]);
    return JSON.parse(stdout) as Read;
  } catch (err) {
    throw new Error(`iceberg_read.py failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}\n${catalog.logTail()}`, { cause: err });
  }
}

/** The local addresses listening on `port` (from /proc/net/tcp and tcp6), as hex as the kernel writes them. */
async function listeners(port: number): Promise<string[]> {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8')).split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, hexPort] = (local ?? '').split(':');
      if (state === '0A' && hexPort && Number.parseInt(hexPort, 16) === port) found.push(address!);
    }
  }
  return found;
}

function rowsAt(hour: string, ...ids: string[]): Row[] {
  return ids.map((id, i) => ({ event_id: id, event_type: i % 2 ? 'search_performed' : 'track_played', receive_time: `${hour}:${String(10 + i).padStart(2, '0')}:00Z` }));
}

describe('Iceberg REST catalog (upstream server)', () => {
  before(async () => {
    await runPythonScript(PYTHON, 'import pyiceberg, pyiceberg_core, pyarrow').catch((err: Error) => {
      throw new Error(`pyiceberg is missing from .cache/venv: run \`bash scripts/setup.sh --no-infra\`\n${err.message}`, { cause: err });
    });
  });

  it('serves a v2 hour-partitioned table made over REST, appended to with pyiceberg and read back independently; stops', { timeout: 180_000 }, async () => {
    const dir = await tempDir('hg-iceberg-');
    const warehouseDir = path.join(dir, 'warehouse');
    const catalog = await startIcebergRestCatalog({ warehouseDir });
    try {
      assert.match(catalog.uri, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(catalog.warehouse, `file://${warehouseDir}`);
      const addresses = await listeners(catalog.port);
      assert.ok(addresses.length > 0, 'nothing listens on the port');
      // 127.0.0.1, as IPv4 or IPv4-mapped IPv6
      for (const address of addresses) assert.match(address, /^(0100007F|0000000000000000FFFF00000100007F)$/, `listens on ${address}, not loopback`);

      const created = (await createEventsTable(catalog)).metadata as Record<string, unknown>;
      assert.equal(created['format-version'], 2);
      assert.equal(created.location, `file://${warehouseDir}/hg/events`);

      const first = await append(catalog, rowsAt('2026-12-04T10', 'e1', 'e2', 'e3'), { 'hourglass.window': '2026-12-04T10' });
      const second = await append(catalog, [...rowsAt('2026-12-04T11', 'e4'), ...rowsAt('2026-12-04T12', 'e5')]);

      const all = await read(catalog);
      assert.equal(all.format_version, 2);
      assert.equal(all.current_snapshot_id, second);
      assert.deepEqual(
        all.snapshots.map((s) => [s.snapshot_id, s.parent_snapshot_id, s.sequence_number, s.summary.operation, s.summary['added-records'], s.summary['total-records']]),
        [
          [first, null, 1, 'append', '3', '3'],
          [second, first, 2, 'append', '2', '5'],
        ],
      );
      assert.equal(all.snapshots[0]!.summary['hourglass.window'], '2026-12-04T10');
      assert.equal(all.snapshots[1]!.summary['added-data-files'], '2', 'one file per hour partition');
      assert.ok(all.snapshots[0]!.timestamp_ms <= all.snapshots[1]!.timestamp_ms);
      assert.equal(all.properties['hourglass.event-type'], 'track_played');
      assert.deepEqual(all.schema.fields, SCHEMA.fields);
      assert.deepEqual(all.partition_spec.fields, [{ source_id: 3, field_id: 1000, name: 'receive_hour', transform: 'hour' }]);
      assert.deepEqual([all.scan.snapshot_id, all.scan.row_count, all.scan.event_ids], [second, 5, ['e1', 'e2', 'e3', 'e4', 'e5']]);

      const atFirst = await read(catalog, '--snapshot', first);
      assert.deepEqual([atFirst.scan.row_count, atFirst.scan.event_ids], [3, ['e1', 'e2', 'e3']]);
      const searches = await read(catalog, '--where', 'event_type=search_performed');
      assert.deepEqual(searches.scan.event_ids, ['e2']);

      const hours = (await readdir(path.join(warehouseDir, 'hg', 'events', 'data'))).sort();
      assert.deepEqual(hours, ['receive_hour=2026-12-04-10', 'receive_hour=2026-12-04-11', 'receive_hour=2026-12-04-12']);
    } finally {
      await catalog.stop();
    }
    assert.equal(groupAlive(catalog.pid), false, 'the catalog server is still running');
    await assert.rejects(fetch(`${catalog.uri}/v1/config`), 'the port still answers');
  });

  it('keeps its namespaces, tables and snapshots across a restart on the same sqlite file', { timeout: 180_000 }, async () => {
    const dir = await tempDir('hg-iceberg-');
    const options = { warehouseDir: path.join(dir, 'warehouse'), catalogDbFile: path.join(dir, 'catalog.db') };
    let catalog = await startIcebergRestCatalog(options);
    let snapshot: string;
    try {
      await createEventsTable(catalog);
      snapshot = await append(catalog, rowsAt('2026-12-04T10', 'r1', 'r2'));
    } finally {
      await catalog.stop();
    }
    catalog = await startIcebergRestCatalog(options);
    try {
      assert.deepEqual((await rest(catalog, 'GET', 'namespaces/hg/tables')).identifiers, [{ namespace: ['hg'], name: 'events' }]);
      const after = await read(catalog);
      assert.deepEqual([after.current_snapshot_id, after.scan.event_ids], [snapshot, ['r1', 'r2']]);
    } finally {
      await catalog.stop();
    }
  });
});
