// Proves what the table committer made of a benchmark's closed windows: every closed window of the type exactly one snapshot whose counts are its manifest's, and every acknowledged event exactly once among the table's rows (read by pyiceberg, another implementation), in its window.
//
// Two readers, neither of them the committer: the catalog's own metadata over REST (snapshots, their
// summaries and timestamps), and pyiceberg scanning the table's current snapshot (its rows' publisher,
// seq and receive time), whose seqs go through the same SeqLedger as the Avro audit.
import { SUMMARY } from '../../services/table/hour-table.ts';
import { RestCatalog, type Snapshot } from '../../services/table/rest-catalog.ts';
import { windowEndUs } from '../../services/wire/window.ts';
import { TABLE_PYTHON_PACKAGES } from '../../test/helpers/iceberg-python.ts';
import { ensurePythonVenv, runPythonScript } from '../../test/helpers/python.ts';
import type { Acknowledged, ClosedWindow } from '../kit/closed-audit.ts';
import { SeqLedger } from '../kit/seq-ledger.ts';

export interface TableAudit {
  /** Closed windows of the type. */
  readonly windows: number;
  /** By window index: the snapshot that committed it (when exactly one did). */
  readonly snapshotOf: ReadonlyMap<number, Snapshot>;
  /** Closed windows no snapshot names. */
  readonly uncommitted: number;
  /** Extra snapshots of windows committed more than once (a window with three counts 2). */
  readonly duplicateSnapshots: number;
  /** Snapshots naming no closed window of the run, or none at all. */
  readonly unexpectedSnapshots: number;
  /** Windows whose snapshot's added-records or hourglass.records is not the manifest's event count, or whose rows in the table (pyiceberg, by receive time) are not. */
  readonly miscountedWindows: number;
  /** Rows pyiceberg read from the current snapshot. */
  readonly rows: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly unexpected: number;
  readonly problems: string[];
}

/** The table's rows as pyiceberg scans them: per publisher, its seqs as sorted runs [from, to) (a seq read twice opens a second run); per window index, its rows. */
const ROWS_READER = String.raw`
import json, sys
import pyarrow.compute as pc
from pyiceberg.catalog import load_catalog
uri, ident, window_us = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = load_catalog("rest", type="rest", uri=uri).load_table(ident)
rows = t.scan(selected_fields=("publisher", "seq", "receive_time")).to_arrow()
rows = rows.sort_by([("publisher", "ascending"), ("seq", "ascending")])
runs = {}
for publisher, seq in zip(rows.column("publisher").to_pylist(), rows.column("seq").to_pylist()):
    r = runs.setdefault(publisher, [])
    if r and r[-1][1] == seq:
        r[-1][1] += 1
    else:
        r.append([seq, seq + 1])
per_window = {}
for us in pc.cast(rows.column("receive_time"), "int64").to_pylist():
    w = us // window_us
    per_window[w] = per_window.get(w, 0) + 1
print(json.dumps({"rows": rows.num_rows, "runs": runs, "perWindow": {str(k): v for k, v in per_window.items()}}))
`;

interface RowsRead {
  readonly rows: number;
  readonly runs: Record<string, Array<[number, number]>>;
  readonly perWindow: Record<string, number>;
}

/** Audits table `namespace`.`type` against the run's closed windows of `type` and what its publishers were acknowledged. */
export async function auditTable(o: { catalogUri: string; namespace: string; type: string; windowS: number; closed: readonly ClosedWindow[]; acknowledged: readonly Acknowledged[] }): Promise<TableAudit> {
  const problems: string[] = [];
  const windows = o.closed.filter((w) => w.type === o.type);
  const table = await new RestCatalog({ uri: o.catalogUri }).loadTable(o.namespace, o.type);
  const snapshots = table?.metadata.snapshots ?? [];
  const byStart = new Map<string, Snapshot[]>();
  let unexpectedSnapshots = 0;
  const starts = new Set(windows.map((w) => w.manifest.windowStart));
  for (const s of snapshots) {
    const start = s.summary[SUMMARY.window];
    if (start === undefined || !starts.has(start)) {
      unexpectedSnapshots++;
      problems.push(`snapshot ${s['snapshot-id']} names window ${start ?? '(none)'}, which is not a closed window of the run`);
      continue;
    }
    byStart.set(start, [...(byStart.get(start) ?? []), s]);
  }
  const snapshotOf = new Map<number, Snapshot>();
  let uncommitted = 0;
  let duplicateSnapshots = 0;
  let miscountedWindows = 0;
  for (const w of windows) {
    const list = byStart.get(w.manifest.windowStart) ?? [];
    if (list.length === 0) {
      uncommitted++;
      problems.push(`${w.dir} (${w.manifest.events} events) has no snapshot`);
      continue;
    }
    if (list.length > 1) {
      duplicateSnapshots += list.length - 1;
      problems.push(`${w.dir} is committed by ${list.length} snapshots: ${list.map((s) => s['snapshot-id']).join(', ')}`);
    }
    const s = list[0]!;
    snapshotOf.set(w.index, s);
    const added = Number(s.summary['added-records'] ?? 0);
    const claimed = Number(s.summary[SUMMARY.records]);
    if (added !== w.manifest.events || claimed !== w.manifest.events) {
      miscountedWindows++;
      problems.push(`${w.dir}: the manifest counts ${w.manifest.events} events, its snapshot added ${added} records and says ${claimed}`);
    }
  }

  const python = await ensurePythonVenv({ packages: TABLE_PYTHON_PACKAGES });
  const read = table === undefined ? { rows: 0, runs: {}, perWindow: {} } : (JSON.parse(await runPythonScript(python, ROWS_READER, [o.catalogUri, `${o.namespace}.${o.type}`, String(o.windowS * 1_000_000)])) as RowsRead);
  const ledger = new SeqLedger();
  for (const [publisher, runs] of Object.entries(read.runs)) {
    const stream = ledger.stream(o.type, publisher);
    for (const [from, to] of runs) stream.addRange(from, to - from);
  }
  const tally = ledger.compare(o.acknowledged.filter((a) => a.type === o.type));
  problems.push(...tally.examples.map((e) => `table rows: ${e}`));
  const known = new Set(windows.map((w) => w.index));
  for (const w of windows) {
    // A window without a snapshot is counted as uncommitted already.
    if (!snapshotOf.has(w.index)) continue;
    const rows = read.perWindow[String(w.index)] ?? 0;
    if (rows !== w.manifest.events) {
      miscountedWindows++;
      problems.push(`${w.dir}: the manifest counts ${w.manifest.events} events, the table holds ${rows} rows whose receive time is in the window (before ${new Date(windowEndUs(w.index, o.windowS) / 1000).toISOString()})`);
    }
  }
  for (const [index, rows] of Object.entries(read.perWindow)) {
    if (known.has(Number(index))) continue;
    miscountedWindows++;
    problems.push(`the table holds ${rows} rows of window ${index}, which is not a closed window of the run`);
  }
  return { windows: windows.length, snapshotOf, uncommitted, duplicateSnapshots, unexpectedSnapshots, miscountedWindows, rows: read.rows, missing: tally.missing, duplicates: tally.duplicates, unexpected: tally.unexpected, problems };
}
