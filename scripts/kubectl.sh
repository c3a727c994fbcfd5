#!/usr/bin/env bash
# Runs kubectl for rendering k8s/ offline (`kubectl kustomize`); there is no cluster here.
# By default it is Debian's kubernetes-client (kubectl 1.20, kustomize v2.0.3 built in), the
# oldest kustomize the overlays must render with: unpacked once into the cache, without root.
# KUBECTL=path picks another kubectl; one on the PATH is used only when Debian's cannot be had.
set -euo pipefail

CACHE="${PAYMENTS_SERVERS_CACHE:-$HOME/.cache/payments-servers}"
DIR="$CACHE/kubernetes-client"
CACHED="$DIR/usr/bin/kubectl"

fail() {
  echo "kubectl.sh: $*" >&2
  echo "kubectl.sh: install Debian's kubernetes-client (apt-get install kubernetes-client)," >&2
  echo "kubectl.sh: or set KUBECTL to a kubectl whose 'kubectl kustomize' works" >&2
  exit 1
}

# apt-get download needs no root, but a fresh machine may have no package lists yet.
fetch() {
  local tmp status=0
  tmp="$(mktemp -d)"
  download() { (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1); }
  if download || { ((EUID == 0)) && apt-get update -qq >/dev/null 2>&1 && download; }; then
    rm -rf "$DIR" && mkdir -p "$DIR" && dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$DIR" || status=1
  else
    status=1
  fi
  rm -rf "$tmp"
  return "$status"
}

if [[ -n "${KUBECTL:-}" ]]; then
  exec "$KUBECTL" "$@"
fi
if [[ ! -x "$CACHED" ]] && command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
  echo "kubectl.sh: unpacking Debian's kubernetes-client into the cache (first run only)" >&2
  fetch || echo "kubectl.sh: could not download Debian's kubernetes-client" >&2
fi
if [[ -x "$CACHED" ]]; then
  exec "$CACHED" "$@"
fi
command -v kubectl >/dev/null 2>&1 || fail "no kubectl found"
exec kubectl "$@"
