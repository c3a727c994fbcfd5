#!/usr/bin/env bash
# Builds (once) and caches the real servers the tests and the demo run against:
# NATS Streaming, NATS with JetStream, Kafka, FerretDB (MongoDB wire protocol), stripe-mock and localstripe.
# Later runs find them in the cache and return at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

# Each build marks itself here while it runs, so that the first run can say what it is waiting for.
BUILDING="$CACHE/.building"
rm -rf "$BUILDING" && mkdir -p "$BUILDING"
building() { touch "$BUILDING/$1"; echo "provision: building $1 $2 (first run only)" >&2; }
built() { rm -f "$BUILDING/$1"; echo "provision: $1 ready ($(elapsed))" >&2; }
STARTED=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - STARTED) / 60)) $(((SECONDS - STARTED) % 60)); }

NATS_STREAMING_VERSION=v0.25.6
NATS_SERVER_VERSION=v2.15.2
STRIPE_MOCK_VERSION=v0.197.0
FERRETDB_VERSION=v1.24.2
LOCALSTRIPE_VERSION=1.15.10
KAFKA_VERSION=4.4.0

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "provision: '$1' is required ($2)" >&2; exit 1; }
}

# go install into the cache, unless this exact version is already there.
go_tool() {
  local name=$1 module=$2 version=$3
  if [[ -x "$BIN/$name" && "$(cat "$BIN/$name.version" 2>/dev/null)" == "$version" ]]; then return; fi
  need go "Go builds $name from the Go module proxy"
  building "$name" "$version"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "$module@$version"
  echo "$version" >"$BIN/$name.version"
  built "$name"
}

# FerretDB from its module source, with one fix. Its own `go install` panics at start (the
# version file is not in the module zip), so the source is copied and the file written.
# The fix: v1.24.2's SQLite handler looks documents up by `_ferretdb_sjson->'$._id'` while
# the unique index it builds is on `_ferretdb_sjson->"_id"`; SQLite matches index expressions
# by their text, so every find, update and delete by _id scanned the whole table (a lookup of
# a recent document took 40 ms at 20,000 documents instead of 0.6). Writing the lookup as the
# index spells it (`->'_id'`, the same JSON path) lets SQLite use the index.
# FERRETDB_STOCK=1 builds the unfixed handler instead, as ferretdb-stock, to measure the difference.
ferretdb() {
  local name=ferretdb marker="$FERRETDB_VERSION+id-index"
  if [[ -n "${FERRETDB_STOCK:-}" ]]; then name=ferretdb-stock marker="$FERRETDB_VERSION"; fi
  if [[ -x "$BIN/$name" && "$(cat "$BIN/$name.version" 2>/dev/null)" == "$marker" ]]; then return; fi
  need go "Go builds FerretDB from the Go module proxy"
  building "$name" "$marker"
  local module src="$CACHE/src/$name" lookup="IDColumn = DefaultColumn + \"->'\$._id'\""
  module="$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).Dir))')"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$module" "$src" && chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  if [[ -z "${FERRETDB_STOCK:-}" ]]; then
    local file="$src/internal/backends/sqlite/metadata/metadata.go"
    grep -qF "$lookup" "$file" || { echo "provision: FerretDB's _id lookup is not where expected" >&2; exit 1; }
    sed -i "s/IDColumn = DefaultColumn + \"->'\\\$\._id'\"/IDColumn = DefaultColumn + \"->'_id'\"/" "$file"
    grep -qF "IDColumn = DefaultColumn + \"->'_id'\"" "$file" || { echo "provision: could not fix FerretDB's _id lookup" >&2; exit 1; }
  fi
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$BIN/$name" ./cmd/ferretdb)
  rm -rf "$src"
  echo "$marker" >"$BIN/$name.version"
  built "$name"
}

localstripe() {
  if [[ -x "$CACHE/localstripe/bin/python" && "$(cat "$CACHE/localstripe.version" 2>/dev/null)" == "$LOCALSTRIPE_VERSION" ]]; then return; fi
  need python3 "Python runs localstripe"
  building localstripe "$LOCALSTRIPE_VERSION"
  rm -rf "$CACHE/localstripe"
  python3 -m venv "$CACHE/localstripe"
  "$CACHE/localstripe/bin/pip" install --quiet "localstripe==$LOCALSTRIPE_VERSION"
  echo "$LOCALSTRIPE_VERSION" >"$CACHE/localstripe.version"
  built localstripe
}

# Kafka's broker is jars on Maven Central: Maven copies kafka_2.13 and its dependencies
# (tools/kafka/pom.xml) into the cache; the tests run it with the machine's Java 17.
kafka() {
  if [[ -d "$CACHE/kafka/libs" && "$(cat "$CACHE/kafka.version" 2>/dev/null)" == "$KAFKA_VERSION" ]]; then return; fi
  # Only the Kafka runs need it: a machine without Java still runs everything else.
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    echo "provision: no Maven or Java: Kafka is not provisioned (TEST_BUS=kafka needs both)" >&2
    return
  fi
  echo "provision: fetching kafka $KAFKA_VERSION (first run only)" >&2
  rm -rf "$CACHE/kafka"
  mvn -B -q -f "$ROOT/tools/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$CACHE/kafka/libs"
  echo "$KAFKA_VERSION" >"$CACHE/kafka.version"
}

# The first run downloads and builds all of them at once; a failure of any fails the whole.
pids=()
go_tool nats-streaming-server github.com/nats-io/nats-streaming-server "$NATS_STREAMING_VERSION" & pids+=($!)
go_tool stripe-mock github.com/stripe/stripe-mock "$STRIPE_MOCK_VERSION" & pids+=($!)
go_tool nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" & pids+=($!)
ferretdb & pids+=($!)
localstripe & pids+=($!)
kafka & pids+=($!)
# Go prints nothing while it compiles: say every 15 s what is still building.
said=$SECONDS
for (( ; ; )); do
  running=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=1; done
  [[ $running -eq 1 ]] || break
  sleep 0.2
  if ((SECONDS - said >= 15)) && compgen -G "$BUILDING/*" >/dev/null; then
    said=$SECONDS
    names="$(cd "$BUILDING" && ls | paste -sd, - | sed 's/,/, /g')"
    echo "provision: still building $names ($(elapsed); a first run takes about 3 to 5 minutes on 2 cores, later runs none)" >&2
  fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
rm -rf "$BUILDING"
[[ $status -eq 0 ]] || { echo "provision: a server could not be built (see above)" >&2; exit 1; }

echo "$CACHE"
