#!/usr/bin/env bash
# Runs the service for real: provisions the local servers (first run builds them), then scripts/demo.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d node_modules ]] || npm ci --no-audit --no-fund
bash scripts/provision.sh >/dev/null
exec npx tsx scripts/demo.ts "$@"
