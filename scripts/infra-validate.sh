#!/usr/bin/env bash
# Checks infra/ with the real google provider: `terraform fmt -check`, then `terraform init`,
# `terraform validate` and `terraform test` (a plan against a mocked provider, see
# infra/envs/*/tests/) in every environment under infra/envs/.
#
# Why a script and not plain `terraform init`: this workplace (and CI) reaches the Go module proxy
# but not registry.terraform.io, so the provider is built from its Go module once, cached under
# .cache/terraform-providers/ (gitignored) laid out as a Terraform filesystem mirror, and
# `terraform init -plugin-dir` reads it from there. With a cached binary a run takes ~3 s; the
# first build takes ~5 minutes on 2 cores (331 s from an empty Go build cache; docs/deploy.md).
#
# Idempotent: builds only if the binary is missing. Validation runs on a copy of infra/ and
# schemas/ in a fresh temporary directory (removed on exit), so no .terraform/ or lock file (whose
# hashes would be those of a local build, not of the registry's release) is left in the work tree,
# and two runs at once (work trees sharing one .cache/) do not trip over each other.
#
# scripts/setup.sh runs `--build`, so `npm test` (and .ci/run) has the provider; the test
# test/infra/terraform-cli.test.ts then runs this script with HOURGLASS_TF_SKIP_BUILD=1.
#
# Usage:
#   scripts/infra-validate.sh            build if missing, then fmt + validate
#   scripts/infra-validate.sh --build    only build the provider (if missing)
#   scripts/infra-validate.sh --fmt      only `terraform fmt -check` (needs no provider)
# Env:
#   HOURGLASS_TF_PROVIDER_DIR   mirror dir (default: <repo>/.cache/terraform-providers)
#   HOURGLASS_TF_SKIP_BUILD=1   fail instead of building when the binary is missing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The google provider as served by the Go module proxy. Its release tags (v2+) are not valid Go
# module versions (the module path has no /vN suffix), so the proxy serves commits only, as
# pseudo-versions: this one is the main branch of 2026-08-28, two days after the 8.0.0 release,
# whose CHANGELOG.md still ends at "## 8.0.0". Stamped 8.0.0 so that "~> 8.0" accepts it.
PROVIDER_MODULE="github.com/hashicorp/terraform-provider-google"
PROVIDER_PSEUDO_VERSION="v1.20.1-0.20260828184646-f3721fb45fa3"
PROVIDER_VERSION="8.0.0" # the version Terraform sees; must satisfy required_providers in infra/
PLATFORM="$(go env GOOS 2>/dev/null || echo linux)_$(go env GOARCH 2>/dev/null || echo amd64)"

MIRROR="${HOURGLASS_TF_PROVIDER_DIR:-$ROOT/.cache/terraform-providers}"
BIN_DIR="$MIRROR/registry.terraform.io/hashicorp/google/$PROVIDER_VERSION/$PLATFORM"
BIN="$BIN_DIR/terraform-provider-google_v$PROVIDER_VERSION"

# This check needs no user CLI config (and must not pick up a mirror or override from one).
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1

log() { printf '[infra-validate] %s\n' "$*" >&2; }

build_provider() {
  if [[ -x "$BIN" ]]; then
    log "provider cached: $BIN"
    return 0
  fi
  if [[ "${HOURGLASS_TF_SKIP_BUILD:-}" == "1" ]]; then
    log "provider missing at $BIN and HOURGLASS_TF_SKIP_BUILD=1"
    return 1
  fi
  command -v go >/dev/null || { log "go not found: needed to build the provider"; return 1; }
  log "building $PROVIDER_MODULE@$PROVIDER_PSEUDO_VERSION as $PROVIDER_VERSION (once: ~5 min on 2 cores)"
  local src
  src="$(go mod download -json "$PROVIDER_MODULE@$PROVIDER_PSEUDO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$src" ]] || { log "module download failed"; return 1; }
  mkdir -p "$BIN_DIR"
  local start=$SECONDS
  # nice + -p 1: the machine is shared; one compile job at a time keeps peak memory near 6 GiB.
  (cd "$src" && nice -n 19 go build -p "${HOURGLASS_GO_BUILD_JOBS:-1}" -trimpath \
    -ldflags "-s -w -X $PROVIDER_MODULE/version.ProviderVersion=$PROVIDER_VERSION" \
    -o "$BIN.tmp" .)
  mv "$BIN.tmp" "$BIN"
  log "built in $((SECONDS - start)) s: $BIN ($(du -h "$BIN" | cut -f1))"
}

fmt_check() {
  log "terraform fmt -check -recursive infra"
  terraform fmt -check -recursive -diff infra
}

validate_envs() {
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/hourglass-infra-validate.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  cp -r infra "$work/infra"
  find "$work/infra" \( -name .terraform -o -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -prune -exec rm -rf {} +
  if [[ -d schemas ]]; then cp -r schemas "$work/schemas"; else mkdir -p "$work/schemas"; fi
  local env
  for env in "$work"/infra/envs/*/; do
    log "terraform init + validate in infra/envs/$(basename "$env")"
    (
      cd "$env"
      terraform init -backend=false -input=false -no-color -plugin-dir="$MIRROR" >/dev/null
      terraform validate -no-color
      # A full plan against a mocked provider: evaluates every expression, with no credentials.
      if compgen -G "tests/*.tftest.hcl" >/dev/null; then terraform test -no-color; fi
    )
  done
}

case "${1:-all}" in
  --build) build_provider ;;
  --fmt) fmt_check ;;
  all)
    fmt_check
    build_provider
    validate_envs
    log "ok"
    ;;
  *) log "unknown argument: $1"; exit 2 ;;
esac
