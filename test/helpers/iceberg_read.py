# Independent Iceberg reader for tests: reads a table through a REST catalog with pyiceberg and prints it as JSON.
#
# Usage: iceberg_read.py --uri http://127.0.0.1:PORT --table ns.table [--warehouse file:///...]
#                        [--snapshot ID] [--where COLUMN=VALUE] [--columns event_id,receive_time]
#                        [--windows '[["<start ISO>","<end ISO>"], ...]']
# Prints one JSON object: format_version, location, current_snapshot_id, every snapshot (id, parent id,
# sequence number, timestamp, summary), the properties, the current schema (field ids), the partition
# spec, and a scan: of the current snapshot or --snapshot, filtered on a string column's value with
# --where, its row count, its rows' --columns (default event_id; sorted) and, when event_id is read,
# the list of event ids; with --windows, the sorted event ids of each window's rows (receive_time in
# [start, end), current snapshot); and the current snapshot's manifests with their entries (status, the
# snapshot that added the file, sequence numbers). A table that does not exist prints {"exists": false}. Snapshot ids are printed as strings: they are 64-bit, past what a JavaScript
# number holds exactly. Other values that are not JSON (timestamps, bytes) are printed as strings too.
# Runs with .cache/venv/bin/python (pyiceberg[pyarrow], installed by scripts/setup.sh).
import argparse
import json
import sys

from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, And, EqualTo, GreaterThanOrEqual, LessThan


def id_text(snapshot_id: int | None) -> str | None:
    return None if snapshot_id is None else str(snapshot_id)


def main() -> None:
    parser = argparse.ArgumentParser(description="Prints an Iceberg table read through a REST catalog as JSON.")
    parser.add_argument("--uri", required=True, help="the REST catalog, http://host:port")
    parser.add_argument("--table", required=True, help="namespace.table")
    parser.add_argument("--warehouse", help="sent to the catalog as its warehouse")
    parser.add_argument("--snapshot", type=int, help="scan this snapshot id instead of the current one")
    parser.add_argument("--where", help="COLUMN=VALUE: only rows whose string column equals VALUE")
    parser.add_argument("--columns", default="event_id", help="comma-separated columns of the scanned rows to print")
    parser.add_argument("--windows", default="[]", help='JSON list of [start, end] ISO times: each window\'s event ids')
    args = parser.parse_args()

    properties = {"type": "rest", "uri": args.uri}
    if args.warehouse:
        properties["warehouse"] = args.warehouse
    try:
        table = load_catalog("rest", **properties).load_table(args.table)
    except NoSuchTableError:
        json.dump({"exists": False}, sys.stdout)
        sys.stdout.write("\n")
        return
    metadata = table.metadata
    spec = table.spec()

    row_filter = AlwaysTrue()
    if args.where:
        column, _, value = args.where.partition("=")
        row_filter = EqualTo(column, value)
    columns = tuple(c for c in args.columns.split(",") if c)
    snapshot_id = args.snapshot if args.snapshot is not None else table.metadata.current_snapshot_id
    if snapshot_id is None:  # an empty table: no snapshot to scan
        rows = []
    else:
        rows = table.scan(row_filter=row_filter, selected_fields=columns, snapshot_id=snapshot_id).to_arrow().to_pylist()
    rows.sort(key=lambda row: tuple(str(row[c]) for c in columns))

    scan = {"snapshot_id": id_text(snapshot_id), "where": args.where, "row_count": len(rows), "rows": rows}
    if "event_id" in columns:
        scan["event_ids"] = [row["event_id"] for row in rows]
    current = table.current_snapshot()
    windows = {}
    for start, end in json.loads(args.windows):
        if current is None:
            windows[start] = []
            continue
        # pyiceberg takes ISO 8601 with an offset, not "Z".
        span = And(GreaterThanOrEqual("receive_time", start.replace("Z", "+00:00")), LessThan("receive_time", end.replace("Z", "+00:00")))
        windows[start] = sorted(table.scan(row_filter=span, selected_fields=("event_id",)).to_arrow().column("event_id").to_pylist())
    manifests = [] if current is None else [
        {
            "path": m.manifest_path,
            "added": m.added_files_count,
            "existing": m.existing_files_count,
            "entries": [
                {"status": e.status.name, "snapshot": id_text(e.snapshot_id), "sequence": e.sequence_number, "fileSequence": e.file_sequence_number}
                for e in m.fetch_manifest_entry(table.io, discard_deleted=False)
            ],
        }
        for m in current.manifests(table.io)
    ]
    out = {
        "exists": True,
        "table": args.table,
        "format_version": metadata.format_version,
        "location": metadata.location,
        "current_snapshot_id": id_text(metadata.current_snapshot_id),
        "snapshots": [
            {
                "snapshot_id": id_text(s.snapshot_id),
                "parent_snapshot_id": id_text(s.parent_snapshot_id),
                "sequence_number": s.sequence_number,
                "timestamp_ms": s.timestamp_ms,
                "summary": s.summary.model_dump() if s.summary is not None else None,
            }
            for s in metadata.snapshots
        ],
        "properties": dict(metadata.properties),
        "schema": {
            "schema_id": table.schema().schema_id,
            "fields": [
                {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required} for f in table.schema().fields
            ],
        },
        "partition_spec": {
            "spec_id": spec.spec_id,
            "fields": [
                {"source_id": f.source_id, "field_id": f.field_id, "name": f.name, "transform": str(f.transform)} for f in spec.fields
            ],
        },
        "scan": scan,
        "windows": windows,
        "manifests": manifests,
    }
    json.dump(out, sys.stdout, default=str, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
