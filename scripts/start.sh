#!/usr/bin/env bash
# The run command (`npm start -- [flags]`): set-up, then the whole pipeline locally on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --gcs "* ]]; then bash scripts/setup.sh --no-infra; else bash scripts/setup.sh --no-gcs --no-infra; fi
export PATH="$PWD/node_modules/.bin:$PATH"
export METADATA_SERVER_DETECTION=none
exec node services/local-run/run-local.ts "$@"
