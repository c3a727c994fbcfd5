#!/usr/bin/env bash
# The test command: provisions the real servers (cached after the first run),
# then runs every test against them. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/provision.sh >/dev/null
exec npx jest "$@"
