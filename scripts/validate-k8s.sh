#!/usr/bin/env bash
# Renders each overlay under k8s/overlays/ (kubectl kustomize, scripts/kubectl.sh) and validates
# what it renders against the Kubernetes API schemas, offline: kubernetes-validate ships the
# schemas, so no cluster is needed. Both tools are installed once into the cache; later runs
# reuse them.
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
overlays=("$ROOT"/k8s/overlays/*/)
if ((${#overlays[@]} == 0)); then
  echo "validate-k8s: no overlays under k8s/overlays/" >&2
  exit 1
fi

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
failed=0
for dir in "${overlays[@]}"; do
  name="$(basename "$dir")"
  file="$rendered/$name.yaml"
  # Newer kustomize only warns (on stderr) about the v2 fields the overlays keep for kubectl 1.20.
  status=0
  bash "$ROOT/scripts/kubectl.sh" kustomize "$dir" >"$file" 2>"$rendered/$name.err" || status=$?
  grep -v '^# Warning' "$rendered/$name.err" >&2 || true
  if ((status != 0)); then
    echo "validate-k8s: overlay $name does not render" >&2
    failed=1
    continue
  fi
  # --strict rejects fields the schema does not know (a misspelt key would otherwise be ignored).
  status=0
  out="$("$VENV/bin/kubernetes-validate" -k "$KUBERNETES_VERSION" --strict --quiet "$file" 2>&1)" || status=$?
  [[ -z "$out" ]] || echo "$out" >&2
  # An apiVersion or kind this Kubernetes does not serve (policy/v1beta1, a typo) is only a
  # warning to the tool, but the cluster would refuse the manifest.
  if ((status != 0)) || grep -q '^WARN' <<<"$out"; then
    echo "validate-k8s: overlay $name renders invalid manifests" >&2
    failed=1
    continue
  fi
  count="$(grep -c '^kind: ' "$file")"
  echo "validate-k8s: overlay $name: $count resources valid for Kubernetes $KUBERNETES_VERSION"
done
exit "$failed"
