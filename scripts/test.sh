#!/usr/bin/env bash
# The test command: provisions the real servers (cached after the first run),
# then runs every test against them on NATS Streaming (or the bus TEST_BUS names).
# With CI=true or TEST_ALL=1 it then runs the files that talk to the bus again on
# JetStream and on Kafka. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/provision.sh >/dev/null
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

# The files whose behaviour depends on the transport: the contract (HTTP and events) and the process.
BUS_FILES=(test/http test/payments test/events test/callbacks test/process)

status=0
run() {
  local bus=$1
  shift
  local started=$SECONDS code=0
  TEST_BUS="$bus" npx jest --json --outputFile="$results" "$@" || code=$?
  [[ $code -eq 0 ]] || status=$code
  # One plain closing line per transport that any CI can read, whatever the reporter printed.
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`Tests (${process.argv[2]}, ${process.argv[3]} s): ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  ' "$results" "$bus" "$((SECONDS - started))" 2>/dev/null || true
}

run "${TEST_BUS:-stan}" "$@"
if [[ "${CI:-}" == true || -n "${TEST_ALL:-}" ]]; then
  run jetstream "${BUS_FILES[@]}" "$@"
  run kafka "${BUS_FILES[@]}" "$@"
fi
exit "$status"
