#!/usr/bin/env bash
# The test command: provisions the real servers (cached after the first run),
# then runs every test against them. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/provision.sh >/dev/null
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
# One plain closing line that any CI can read, whatever the reporter printed.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' "$results" 2>/dev/null || true
exit "$status"
