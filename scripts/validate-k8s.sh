#!/usr/bin/env bash
# Validates every manifest under k8s/ against the Kubernetes API schemas, offline:
# kubernetes-validate ships the schemas, so no cluster and no network is needed.
# It is installed once into a cached venv; later runs reuse it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
VENV="$CACHE/kubernetes-validate"
KUBERNETES_VALIDATE_VERSION=1.37.0
# The oldest Kubernetes the manifests target: the preStop sleep action is on by default from 1.30.
KUBERNETES_VERSION=1.30.0

if [[ ! -x "$VENV/bin/kubernetes-validate" || "$(cat "$VENV/.version" 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]]; then
  command -v python3 >/dev/null 2>&1 || { echo "validate-k8s: python3 is required" >&2; exit 1; }
  echo "validate-k8s: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (first run only)" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  echo "$KUBERNETES_VALIDATE_VERSION" >"$VENV/.version"
fi

shopt -s nullglob
manifests=("$ROOT"/k8s/*.yaml "$ROOT"/k8s/*.yml)
if ((${#manifests[@]} == 0)); then
  echo "validate-k8s: no manifests under k8s/" >&2
  exit 1
fi

# --strict rejects fields the schema does not know (a misspelt key would otherwise be ignored).
status=0
out="$("$VENV/bin/kubernetes-validate" -k "$KUBERNETES_VERSION" --strict --quiet "${manifests[@]}" 2>&1)" || status=$?
[[ -z "$out" ]] || echo "$out" >&2
# An apiVersion or kind this Kubernetes does not serve (policy/v1beta1, a typo) is only a
# warning to the tool, but the cluster would refuse the manifest.
if ((status != 0)) || grep -q '^WARN' <<<"$out"; then
  echo "validate-k8s: invalid manifests under k8s/" >&2
  exit 1
fi
echo "validate-k8s: ${#manifests[@]} files valid for Kubernetes $KUBERNETES_VERSION"
