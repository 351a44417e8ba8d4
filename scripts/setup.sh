#!/usr/bin/env bash
# Installs everything the tests and the local pipeline need, idempotently: npm packages (with Node 24),
# fake-gcs-server built from its Go module, a Python venv with fastavro (the independent Avro reader),
# and the google Terraform provider for the infra tests (built from its Go module, cached).
#
# Usage: scripts/setup.sh [--no-gcs] [--no-infra]
#   --no-gcs     skip fake-gcs-server (the local run without --gcs)
#   --no-infra   skip the Terraform checks' needs (the local run: only the tests use them)
set -euo pipefail
cd "$(dirname "$0")/.."

with_gcs=1
with_infra=1
for arg in "$@"; do
  case "$arg" in
    --no-gcs) with_gcs=0 ;;
    --no-infra) with_infra=0 ;;
    *) echo "setup: unknown argument $arg (usage: scripts/setup.sh [--no-gcs] [--no-infra])" >&2; exit 2 ;;
  esac
done

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

if [ "$with_gcs" = 1 ] && [ ! -x .cache/bin/fake-gcs-server ] && [ -z "${FAKE_GCS_SERVER:-}" ]; then
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

# Schemathesis fuzzes the gateway against its OpenAPI document (test/gateway/schemathesis.test.ts); same venv.
SCHEMATHESIS_VERSION="4.32.5"
if ! .cache/venv/bin/python -c "import schemathesis, sys; from importlib.metadata import version; sys.exit(version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  echo "setup: installing schemathesis $SCHEMATHESIS_VERSION into .cache/venv (fuzzes the gateway's OpenAPI document)"
  .cache/venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
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

# --- begin: Terraform for the infra tests (test/infra/terraform-cli.test.ts) ---------------------
# terraform itself comes with the machine image (/usr/local/bin/terraform, like the Google Cloud CLI):
# it cannot be built from the Go module proxy (`go install github.com/hashicorp/terraform@v1.11.4`
# refuses a module with replace directives, and the proxy does not serve the nested modules they
# point at) and no other registry this workplace reaches ships it. The google provider is built from
# its Go module once (about 5 to 9 minutes on 2 cores) and cached in .cache/terraform-providers/.
# A failure here is reported and the infra test fails with the reason; it never skips.
if [ "$with_infra" = 1 ]; then
  if ! command -v terraform >/dev/null 2>&1; then
    echo "setup: terraform is not on PATH; the infra tests fail without it (Terraform >= 1.9, as infra/ requires)" >&2
  elif ! bash scripts/infra-validate.sh --build; then
    echo "setup: building the google Terraform provider failed (scripts/infra-validate.sh --build); the infra tests fail without it" >&2
  fi
fi
# --- end: Terraform ------------------------------------------------------------------------------

# --- begin: OpenTelemetry Collector for the telemetry tests (test/telemetry/otlp-*.test.ts) ------
# The core collector's receiver and exporters plus contrib's file exporter, built from their Go modules with the
# collector's own builder (ocb) into .cache/bin/otelcol-hourglass, once (about 3 minutes cold on 2 cores).
# GOFLAGS -e: the builder's `go mod tidy` also resolves the file exporter's test-only imports, one of which the module
# proxy does not serve; -e lets tidy go on without it (nothing built needs it). A failure is reported and the telemetry
# tests fail with the reason; it never skips.
OTELCOL_VERSION="0.165.0"     # go.opentelemetry.io/collector/cmd/builder and the v0.x component modules
OTELCOL_CONFMAP_VERSION="1.71.0" # the v1.x confmap providers released with it
build_otelcol() {
  # Each step checked by hand: errexit does not hold inside a function called as an if condition.
  rm -rf .cache/otelcol && mkdir -p .cache/otelcol/src .cache/bin || return 1
  cat > .cache/otelcol/builder.yaml <<YAML || return 1
dist:
  name: otelcol-hourglass
  description: OpenTelemetry Collector for the hourglass tests (OTLP receiver; file and debug exporters)
  version: $OTELCOL_VERSION
  output_path: $PWD/.cache/otelcol/src
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v$OTELCOL_VERSION
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v$OTELCOL_VERSION
  - gomod: github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter v$OTELCOL_VERSION
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider v$OTELCOL_CONFMAP_VERSION
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v$OTELCOL_CONFMAP_VERSION
  - gomod: go.opentelemetry.io/collector/confmap/provider/yamlprovider v$OTELCOL_CONFMAP_VERSION
YAML
  GOBIN="$PWD/.cache/otelcol/bin" GOFLAGS=-mod=mod go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION" || return 1
  GOFLAGS="-mod=mod -e" .cache/otelcol/bin/builder --config=.cache/otelcol/builder.yaml || return 1
  mv .cache/otelcol/src/otelcol-hourglass .cache/bin/otelcol-hourglass || return 1
  rm -rf .cache/otelcol
}
if [ ! -x .cache/bin/otelcol-hourglass ] || [ "$(.cache/bin/otelcol-hourglass --version 2>/dev/null)" != "otelcol-hourglass version $OTELCOL_VERSION" ]; then
  echo "setup: building otelcol-hourglass (OpenTelemetry Collector $OTELCOL_VERSION) from its Go modules (once; cached in .cache/bin)"
  if ! build_otelcol; then
    echo "setup: building otelcol-hourglass failed; the telemetry tests (test/telemetry/otlp-*.test.ts) fail without it" >&2
  fi
fi
# --- end: OpenTelemetry Collector ----------------------------------------------------------------

# --- begin: Iceberg REST catalog for the Iceberg tests (test/local-stack/iceberg-rest-catalog.test.ts) ---
# Apache Iceberg's own REST catalog test server (org.apache.iceberg.rest.RESTCatalogServer, what the
# apache/iceberg-rest-fixture image runs): its classpath from Maven Central (scripts/iceberg-rest/pom.xml,
# about 60 MB) into .cache/iceberg-rest/lib, and the launcher that binds it to 127.0.0.1 only
# (scripts/iceberg-rest/IcebergRestLauncher.java) compiled into .cache/iceberg-rest/classes. Done again
# only when the pom or the launcher changes (their sha256 in .cache/iceberg-rest/stamp, which
# services/local-stack/iceberg-rest-catalog.ts checks too). Then pyiceberg, the independent reader, into
# .cache/venv: pyiceberg-core is what its writes to hour-partitioned tables need (0.12.0 wants < 0.11).
# A failure is reported and the Iceberg tests fail with the reason; it never skips.
iceberg_rest_stamp=$(cat scripts/iceberg-rest/pom.xml scripts/iceberg-rest/IcebergRestLauncher.java | sha256sum | cut -d' ' -f1)
build_iceberg_rest() {
  # Built beside, then moved into place: a test starting the catalog meanwhile never sees half a classpath.
  local tmp=.cache/iceberg-rest.tmp
  rm -rf "$tmp" && mkdir -p "$tmp" || return 1
  if ! mvn -B -f scripts/iceberg-rest/pom.xml dependency:copy-dependencies -DoutputDirectory="$PWD/$tmp/lib" > "$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    return 1
  fi
  rm -f "$tmp/mvn.log"
  javac -nowarn -cp "$tmp/lib/*" -d "$tmp/classes" scripts/iceberg-rest/IcebergRestLauncher.java || return 1
  echo "$iceberg_rest_stamp" > "$tmp/stamp" || return 1
  rm -rf .cache/iceberg-rest && mv "$tmp" .cache/iceberg-rest
}
if [ "$(cat .cache/iceberg-rest/stamp 2>/dev/null)" != "$iceberg_rest_stamp" ]; then
  if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
    echo "setup: mvn or javac (Java 17+) is missing; the Iceberg tests fail without the REST catalog ('apt-get install -y maven openjdk-17-jdk-headless')" >&2
  else
    echo "setup: fetching Apache Iceberg's REST catalog server from Maven Central into .cache/iceberg-rest (once)"
    if ! build_iceberg_rest; then
      echo "setup: assembling the Iceberg REST catalog failed (mvn -f scripts/iceberg-rest/pom.xml, javac); the Iceberg tests fail without it" >&2
    fi
  fi
fi
PYICEBERG_VERSION="0.12.0"
PYICEBERG_CORE_VERSION="0.10.1"
PYARROW_VERSION="26.0.1"
if ! .cache/venv/bin/python -c "import sys, pyiceberg, pyiceberg_core, pyarrow; from importlib.metadata import version as v; sys.exit((v('pyiceberg'), v('pyiceberg-core'), v('pyarrow')) != ('$PYICEBERG_VERSION', '$PYICEBERG_CORE_VERSION', '$PYARROW_VERSION'))" 2>/dev/null; then
  echo "setup: installing pyiceberg $PYICEBERG_VERSION with pyarrow into .cache/venv (the independent Iceberg reader for tests)"
  if ! .cache/venv/bin/pip install --quiet --disable-pip-version-check "pyiceberg[pyarrow,pyiceberg-core]==$PYICEBERG_VERSION" \
      "pyiceberg-core==$PYICEBERG_CORE_VERSION" "pyarrow==$PYARROW_VERSION"; then
    echo "setup: installing pyiceberg failed; the Iceberg tests fail without it" >&2
  fi
fi
# --- end: Iceberg REST catalog --------------------------------------------------------------------
