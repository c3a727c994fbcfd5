#!/usr/bin/env bash
# Fuzzes a running service from its own OpenAPI document with schemathesis: no
# 5xx, and every answer's status, content type, headers and body as documented.
# Not part of CI: it needs a service started by hand (npm run dev, or npm start).
#
#   scripts/fuzz-api.sh [BASE_URL]        default http://127.0.0.1:3000
#
# FUZZ_MAX_EXAMPLES  cases per operation and phase (default 50)
# FUZZ_SEED          replays a run
# FUZZ_TOKEN         a Bearer JWT for POST /api/payments; else one is signed with
#                    JWT_KEY (the service's) for user FUZZ_USER_ID (default fuzz-user)
# Extra arguments go to `schemathesis run`, e.g. --phases examples,coverage; it runs in
# $CACHE/schemathesis-work, so give a report directory as an absolute path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
VENV="$CACHE/schemathesis"
SCHEMATHESIS_VERSION=4.32.5

BASE_URL="${1:-http://127.0.0.1:3000}"
[[ $# -gt 0 ]] && shift

if [[ ! -x "$VENV/bin/schemathesis" || "$(cat "$VENV.version" 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]]; then
  command -v python3 >/dev/null || { echo "fuzz-api: python3 is required" >&2; exit 1; }
  echo "fuzz-api: installing schemathesis $SCHEMATHESIS_VERSION (first run only)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$SCHEMATHESIS_VERSION" >"$VENV.version"
fi

token="${FUZZ_TOKEN:-}"
if [[ -z "$token" ]]; then
  [[ -n "${JWT_KEY:-}" ]] || { echo "fuzz-api: set FUZZ_TOKEN, or JWT_KEY to sign one" >&2; exit 1; }
  token="$(cd "$ROOT" && FUZZ_USER_ID="${FUZZ_USER_ID:-fuzz-user}" node -e '
    const jwt = require("jsonwebtoken");
    const id = process.env.FUZZ_USER_ID;
    process.stdout.write(jwt.sign({ id, email: `${id}@fuzz.test` }, process.env.JWT_KEY, { algorithm: "HS256" }));
  ')"
fi

args=(
  --max-examples "${FUZZ_MAX_EXAMPLES:-50}"
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,positive_data_acceptance,ignored_auth
  --header "Authorization: Bearer $token"
  --request-timeout 10
  --workers 1
  --no-color
)
[[ -n "${FUZZ_SEED:-}" ]] && args+=(--seed "$FUZZ_SEED")

# schemathesis keeps found cases (.hypothesis, .schemathesis) in its working directory: not in the repo.
mkdir -p "$CACHE/schemathesis-work"
cd "$CACHE/schemathesis-work"
exec "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/fuzz-api.toml" run "$BASE_URL/api/payments/doc/openapi.json" --url "$BASE_URL" "${args[@]}" "$@"
