#!/usr/bin/env bash
# Installs everything the tests and the local pipeline need, idempotently: npm packages (with Node 24),
# fake-gcs-server built from its Go module, and a Python venv with fastavro (the independent Avro reader).
set -euo pipefail
cd "$(dirname "$0")/.."

FAKE_GCS_MODULE="github.com/fsouza/fake-gcs-server@v1.56.1"

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
node_major=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != "24" ]; then
  echo "setup: node_modules/.bin/node is Node $node_major, expected 24 (the node@24 devDependency)" >&2
  exit 1
fi

if [ "${1:-}" != "--no-gcs" ] && [ ! -x .cache/bin/fake-gcs-server ] && [ -z "${FAKE_GCS_SERVER:-}" ]; then
  echo "setup: building fake-gcs-server from $FAKE_GCS_MODULE (once; cached in .cache/bin)"
  mkdir -p .cache/bin
  GOBIN="$PWD/.cache/bin" GOFLAGS=-mod=mod go install "$FAKE_GCS_MODULE"
fi

# fastavro reads zstandard through backports.zstd (Python < 3.14) and snappy through cramjam.
if [ ! -x .cache/venv/bin/python ] || ! .cache/venv/bin/python -c 'import fastavro, zstandard, cramjam' 2>/dev/null; then
  echo "setup: creating .cache/venv with fastavro (independent Avro reader for tests)"
  python3 -m venv .cache/venv
  .cache/venv/bin/pip install --quiet --disable-pip-version-check fastavro zstandard cramjam 'backports.zstd; python_version < "3.14"'
fi

# --- begin: Chromium for the status page's browser test (test/console/) ---------------------------
# Debian's chromium, driven by playwright-core; never a browser download of playwright's own.
if [ -z "${HOURGLASS_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (apt-get; for the status page's browser test)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: installing chromium failed; the status page test will fail until it is installed" >&2
  else
    echo "setup: chromium is missing and this is not root: run 'sudo apt-get install -y chromium'" \
      "(or set HOURGLASS_CHROMIUM to a Chromium binary); the status page test fails without it" >&2
  fi
fi
# --- end: Chromium -------------------------------------------------------------------------------
