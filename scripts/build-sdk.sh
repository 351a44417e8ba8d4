#!/usr/bin/env bash
# Builds the SDK package (packages/sdk: compiled ESM JavaScript and .d.ts from services/sdk and what it imports)
# and packs it: prints the path of the tarball, as `npm install` takes it. Usage: bash scripts/build-sdk.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-artifacts}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf packages/sdk/dist
node_modules/.bin/tsc -p packages/sdk/tsconfig.build.json
cd packages/sdk
tarball="$(npm pack --silent --pack-destination "$out" | tail -1)"
echo "$out/$tarball"
