#!/usr/bin/env bash
# The chaos command (`npm run chaos -- [--seed N] [--duration-s S] [--window-s W] [--json] …`): set-up, then chaos/run-chaos.ts.
# Exit code: 0 every promise kept, 1 a promise broken (the report says which, and the seed reproduces the faults), 2 the suite failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-gcs >&2
export PATH="$PWD/node_modules/.bin:$PATH"
export METADATA_SERVER_DETECTION=none
exec node chaos/run-chaos.ts "$@"
