#!/usr/bin/env bash
# Fuzzes a running service from its own OpenAPI document with schemathesis: no
# 5xx, and every answer's status, content type, headers and body as documented.
# Not part of CI: it needs a service started by hand (npm run dev, or npm start).
#
#   scripts/fuzz-api.sh [BASE_URL]        default http://127.0.0.1:3000
#
# With `npm run demo` running, nothing needs setting: the token is signed with the demo's key
# (.demo/settings.json) and orders are created on its bus first, so that payments reach the charge.
#
# FUZZ_MAX_EXAMPLES  cases per operation and phase (default 50)
# FUZZ_SEED          replays a run
# FUZZ_TOKEN         a Bearer JWT; else one is signed with JWT_KEY, else with the demo's key,
#                    for user FUZZ_USER_ID (default fuzz-user), an admin with FUZZ_ADMIN=1
# FUZZ_ORDERS        orders created first on the demo's bus (default 200; 0 for none)
# Extra arguments go to `schemathesis run`, e.g. --phases examples,coverage; it runs in
# $CACHE/schemathesis-work, so give a report directory as an absolute path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
VENV="$CACHE/schemathesis"
SCHEMATHESIS_VERSION=4.32.5

BASE_URL="${1:-http://127.0.0.1:3000}"
[[ $# -gt 0 ]] && shift

# The token first: a run that cannot sign one stops before installing anything.
token="${FUZZ_TOKEN:-}"
user_id="${FUZZ_USER_ID:-fuzz-user}"
demo_settings="$ROOT/.demo/settings.json"
if [[ -z "$token" ]]; then
  if [[ -z "${JWT_KEY:-}" && ! -f "$demo_settings" ]]; then
    echo "fuzz-api: start \`npm run demo\` first (its key signs the token), or set JWT_KEY or FUZZ_TOKEN" >&2
    exit 1
  fi
  token="$(cd "$ROOT" && FUZZ_USER_ID="$user_id" node -e '
    const jwt = require("jsonwebtoken");
    const key = process.env.JWT_KEY || JSON.parse(require("fs").readFileSync(".demo/settings.json", "utf8")).jwtKey;
    const id = process.env.FUZZ_USER_ID;
    const role = process.env.FUZZ_ADMIN === "1" ? { role: "admin" } : {};
    process.stdout.write(jwt.sign({ id, email: `${id}@fuzz.test`, ...role }, key, { algorithm: "HS256" }));
  ')"
else
  user_id="$(node -e 'process.stdout.write(JSON.parse(Buffer.from(process.argv[1].split(".")[1], "base64url")).id)' "$token")"
fi

if [[ ! -x "$VENV/bin/schemathesis" || "$(cat "$VENV.version" 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]]; then
  command -v python3 >/dev/null || { echo "fuzz-api: python3 is required" >&2; exit 1; }
  echo "fuzz-api: installing schemathesis $SCHEMATHESIS_VERSION into $VENV (first run only, about 95 MB)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$SCHEMATHESIS_VERSION" >"$VENV.version"
fi

mkdir -p "$CACHE/schemathesis-work"
state="$CACHE/schemathesis-work/orders.json"
rm -f "$state"
if [[ -f "$demo_settings" && "${FUZZ_ORDERS:-200}" -gt 0 ]]; then
  (cd "$ROOT" && npx tsx scripts/fuzz-orders.ts "$user_id" "${FUZZ_ORDERS:-200}" "$state")
else
  echo "fuzz-api: no demo running here: every payment will answer 404 (unknown order) before charging" >&2
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
cd "$CACHE/schemathesis-work"
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks
[[ -f "$state" ]] && export FUZZ_STATE="$state"
exec "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/fuzz-api.toml" run "$BASE_URL/api/payments/doc/openapi.json" --url "$BASE_URL" "${args[@]}" "$@"
