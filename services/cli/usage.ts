// The CLI's help text: the overall usage and one synopsis per command.

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  status: `usage: hourglass-events status [--type TYPE] [--windows N] [--json]
  Windows of the last N window lengths (default 12) per type, with their states (open, closing,
  closed, incomplete), events, close delay, lost, late and dead-lettered counts, from the checkers'
  status files and the closed manifests in the bucket.
  --type TYPE   only this type
  --windows N   how many window lengths back from now to show (default 12)
  --json        the whole snapshot as JSON (the console's /api/status)`,
  ls: `usage: hourglass-events ls <type> [--limit N] [--json]
  Closed windows of <type>, oldest first: start, status, events, lost, files, bytes, close delay.
  --limit N     only the newest N
  --json        one JSON object per line`,
  cat: `usage: hourglass-events cat <type> <hour>
  Every record of a closed window as JSON lines on stdout, streamed block by block (a big hour never
  sits in memory). timestamp-micros fields print as numbers (µs since the epoch, UTC); bytes as base64.`,
  manifest: `usage: hourglass-events manifest <type> <hour>
  The window's _MANIFEST.json: files, checksums, counts per publisher, and how completeness was
  proven (lost and abandoned seq ranges of an incomplete window).`,
  verify: `usage: hourglass-events verify <type> <hour>
  Re-reads every part file: size, SHA-256, records per file (every block decompressed and its records
  counted), schema and codec against the manifest. Exit 1 on any mismatch.`,
  wait: `usage: hourglass-events wait <type> <hour> [--timeout DURATION] [--poll-max-s N] [--json]
  Blocks until the window is closed (its _SUCCESS exists), polling the bucket (1 s, doubling up to
  --poll-max-s, default 10), for schedulers. Exit 0 closed complete, 3 closed incomplete (lost events
  named in its manifest), 4 not closed within --timeout (90, 90s, 30m, 2h; default: no limit),
  1 failure, 2 bad usage. Prints one line (or --json) on close. A job that must act as soon as hours
  close subscribes to the closed-windows topic instead (README, "Closed-window events").`,
  schemas: `usage: hourglass-events schemas check [--dir DIR]
  Loads the event-type registry (default: the shipped schemas/, or HOURGLASS_SCHEMAS_DIR) and checks
  every type: names, configs, and that each version reads all older versions' data. Exit 1 on error.`,
  publish: `usage: hourglass-events publish <type> <file.jsonl> [--project ID] [--topic-prefix P] [--schema-version N] [--skip-invalid]
  Publishes each line of the file as one event through the SDK to Pub/Sub (PUBSUB_EMULATOR_HOST is
  honoured). A line is {"payload": {...}, "event_id": "..."} (event_id optional; delivered scoped as
  "hourglass-cli:<event_id>", at most 256 characters in all) or a bare payload object; blank lines are skipped. Every line is checked first: if any is invalid, nothing is
  published and each bad line is reported by number (exit 1).
  --project ID        Google Cloud project [HOURGLASS_PROJECT, GOOGLE_CLOUD_PROJECT; default hourglass-local]
  --topic-prefix P    topic name prefix [HOURGLASS_TOPIC_PREFIX; default hourglass-]
  --schema-version N  validate and encode with this schema version (default: the newest)
  --skip-invalid      publish the valid lines, report the invalid ones, and exit 1 if there were any`,
  redrive: `usage: hourglass-events redrive [--type TYPE] [--source worker|undeliverable|both] [--reason R[,R…]] [--hour H | [--since T] [--until T]] [--limit N] [--dry-run] [--force] [--delete] [--json]
  Puts dead-lettered messages back through the pipeline: the worker's dead letters (deadletter/<type>/dt=…/,
  once their cause is fixed) and the messages Pub/Sub gave up delivering (deadletter/<type>/undeliverable/,
  its Cloud Storage subscription's Avro files). Each message is first checked as the worker would check
  it, with this registry (HOURGLASS_SCHEMAS_DIR) and window length (--window-s): one it would
  dead-letter again is skipped, with its reason. The rest are republished unchanged to their type's
  topic; once Pub/Sub acknowledged one, a marker is created under deadletter/<type>/redriven/ and the
  dead letter is kept. A marked dead letter is never republished again, so running redrive twice is
  safe; a crash between the acknowledgement and the marker republishes that message once more, which
  the checker de-duplicates by (publisher, seq). Its events land in their window if it is still open,
  else in the late area. PUBSUB_EMULATOR_HOST is honoured. Exit 1 if any was skipped or failed.
  --type TYPE         only this type (default: every type with dead letters)
  --source S          worker, undeliverable or both (default: both)
  --reason R[,R…]     only these reasons: bad_attributes, unknown_type, wrong_topic, unknown_version,
                      wrong_window_length, corrupt_block, bad_records, or undeliverable
  --hour H            dead-lettered in this hour (2026-11-22T21)
  --since T, --until T
                      dead-lettered at or after T / before T: a UTC time (2026-11-22T21:30:00Z), an
                      hour (2026-11-22T21) or a duration ago (90m, 6h, 7d)
  --limit N           take at most N dead letters not yet redriven, oldest first (run again for more)
  --dry-run           check and count, publish and mark nothing
  --force             republish also what the worker would refuse (it will dead-letter it again)
  --delete            delete each dead letter once its republish is acknowledged and marked
  --json              the summary as one JSON object, with every skipped or failed dead letter
  --project ID        Google Cloud project [HOURGLASS_PROJECT, GOOGLE_CLOUD_PROJECT; default hourglass-local]
  --topic-prefix P    topic name prefix [HOURGLASS_TOPIC_PREFIX; default hourglass-]`,
  version: `usage: hourglass-events version
  The version of hourglass-events: the "version" in the package.json it runs from. Also --version, -V.`,
};

export const SHORT_USAGE = 'usage: hourglass-events <command> [options]   commands: status, ls, cat, manifest, verify, wait, schemas check, publish, redrive, help, version';

export const USAGE = `usage: hourglass-events <command> [options]

Reads, checks and feeds an hourglass bucket.

commands:
  status                        windows of every type and their states
  ls <type>                     closed windows of a type
  cat <type> <hour>             records of a closed window as JSON lines (streamed)
  manifest <type> <hour>        the window's _MANIFEST.json
  verify <type> <hour>          re-read the part files and check them against the manifest
  wait <type> <hour>            block until the window is closed; exit 0 complete, 3 incomplete, 4 timeout
  schemas check                 load and check the schema registry
  publish <type> <file.jsonl>   publish each line as an event (all or nothing per file)
  redrive                       put dead-lettered messages back through the pipeline (idempotent)
  help [command]                this text, or a command's
  version                       the version of hourglass-events

global options:
  -l, --location LOC      the bucket: file:///path, a path, or gs://bucket/prefix
                          [HOURGLASS_BUCKET; default file://./.hourglass-data]
      --gcs-endpoint URL  GCS API endpoint, e.g. fake-gcs-server's [HOURGLASS_GCS_ENDPOINT]
      --window-s N        window length in seconds; must divide a day [HOURGLASS_WINDOW_S; default 3600]
  -h, --help              help
  -V, --version           the version of hourglass-events

<hour> names a window by its start, in UTC: 2026-11-22T21 or 2026-11-22/21 for hourly windows; for
shorter windows the start as an ISO time, 2026-11-22T21:52:20Z (also 20261122T215220Z or
dt=2026-11-22/hour=21/minute=52/second=20). \`ls\` prints windows in a form <hour> accepts.

Progress bars go to stderr, only when it is a terminal.
exit codes: 0 ok, 1 failure (not found, mismatch, invalid input), 2 bad usage; wait also exits 3 (closed incomplete) and 4 (not closed within --timeout).`;
