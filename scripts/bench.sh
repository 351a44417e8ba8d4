#!/usr/bin/env bash
# The benchmark command (`npm run bench -- [--json] [--quick] [--only a,b]`): set-up, then every benchmark in bench/ through bench/run-all.ts.
# The full run takes about 65 minutes (most of it the close benchmark: 20 windows of 10 s and 20 of 50 s; the table
# benchmark: 20 windows of 10 s without and with the Iceberg table committer, about 8 minutes; then the scale benchmark:
# 500 types, 1,000 publishers, 1 and 3 checker replicas, 5 to 11 minutes each on 2 cores); --quick about 10.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-gcs >&2
export PATH="$PWD/node_modules/.bin:$PATH"
export METADATA_SERVER_DETECTION=none
exec node bench/run-all.ts "$@"
