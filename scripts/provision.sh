#!/usr/bin/env bash
# Builds (once) and caches the real servers the tests and the demo run against:
# NATS Streaming, FerretDB (MongoDB wire protocol), stripe-mock and localstripe.
# Later runs find them in the cache and return at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

NATS_STREAMING_VERSION=v0.25.6
STRIPE_MOCK_VERSION=v0.197.0
FERRETDB_VERSION=v1.24.2
LOCALSTRIPE_VERSION=1.15.10

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "provision: '$1' is required ($2)" >&2; exit 1; }
}

# go install into the cache, unless this exact version is already there.
go_tool() {
  local name=$1 module=$2 version=$3
  if [[ -x "$BIN/$name" && "$(cat "$BIN/$name.version" 2>/dev/null)" == "$version" ]]; then return; fi
  need go "Go builds $name from the Go module proxy"
  echo "provision: building $name $version (first run only)" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "$module@$version"
  echo "$version" >"$BIN/$name.version"
}

# FerretDB's own command panics when built with `go install` (its version file is not in
# the module), so a small main in tools/ferretdb embeds it instead.
ferretdb() {
  if [[ -x "$BIN/ferretdb" && "$(cat "$BIN/ferretdb.version" 2>/dev/null)" == "$FERRETDB_VERSION" ]]; then return; fi
  need go "Go builds FerretDB from the Go module proxy"
  echo "provision: building ferretdb $FERRETDB_VERSION (first run only)" >&2
  (cd "$ROOT/tools/ferretdb" && go build -o "$BIN/ferretdb" .)
  echo "$FERRETDB_VERSION" >"$BIN/ferretdb.version"
}

localstripe() {
  if [[ -x "$CACHE/localstripe/bin/python" && "$(cat "$CACHE/localstripe.version" 2>/dev/null)" == "$LOCALSTRIPE_VERSION" ]]; then return; fi
  need python3 "Python runs localstripe"
  echo "provision: installing localstripe $LOCALSTRIPE_VERSION (first run only)" >&2
  rm -rf "$CACHE/localstripe"
  python3 -m venv "$CACHE/localstripe"
  "$CACHE/localstripe/bin/pip" install --quiet "localstripe==$LOCALSTRIPE_VERSION"
  echo "$LOCALSTRIPE_VERSION" >"$CACHE/localstripe.version"
}

# The first run downloads and builds all four at once; a failure of any fails the whole.
pids=()
go_tool nats-streaming-server github.com/nats-io/nats-streaming-server "$NATS_STREAMING_VERSION" & pids+=($!)
go_tool stripe-mock github.com/stripe/stripe-mock "$STRIPE_MOCK_VERSION" & pids+=($!)
ferretdb & pids+=($!)
localstripe & pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[[ $status -eq 0 ]] || { echo "provision: a server could not be built (see above)" >&2; exit 1; }

echo "$CACHE"
