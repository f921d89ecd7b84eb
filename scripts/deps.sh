#!/usr/bin/env bash
# Installs what keel's build and tests need, idempotently: the Debian packages listed in
# deps/*.apt (one list per area) and the npm packages of package-lock.json.
# `deps.sh npm` does only the npm part.
set -euo pipefail
cd "$(dirname "$0")/.."

install_apt() {
  local wanted missing=()
  wanted=$(cat deps/*.apt 2>/dev/null | sed 's/#.*//' | tr -s ' \n' '\n' | sort -u)
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installing must not start services (etcd, ssh...): the tests start what they need.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_npm() {
  # npm ci only when the lock file changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s <(sha256sum < package-lock.json) .cache/npm-lock.sha256 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    mkdir -p .cache && sha256sum < package-lock.json > .cache/npm-lock.sha256
    touch node_modules/.package-lock.json
  fi
}

case "${1:-all}" in
  npm) install_npm ;;
  apt) install_apt ;;
  all) install_apt; install_npm ;;
esac
