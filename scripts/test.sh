#!/usr/bin/env bash
# The test command (`npm test`, and what .ci/run calls): set-up, lint, type check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
# No Google metadata server here: keep the client libraries from probing for one.
export METADATA_SERVER_DETECTION=none
echo "== lint"; eslint .
echo "== type check"; tsc --noEmit -p tsconfig.json
echo "== tests (node $(node --version))"
exec node --test --test-concurrency=2 --test-timeout=300000 --test-force-exit "test/**/*.test.ts"
