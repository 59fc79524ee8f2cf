#!/usr/bin/env bash
# Installs what the benchmark peers need on Debian 12; idempotent.
#   apt: nginx with Debian's Nchan module, redis-server (binaries only: start.sh runs its own
#        instances in temp dirs, never the system services)
#   npm: Socket.IO 4 and its Redis adapter, from bench/peers/socketio/package-lock.json
# None of these pulls Debian's libboost-dev, which would displace Boost 1.81 (DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")"

packages=(nginx libnginx-mod-nchan redis-server)
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "peers/install.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  # A policy-rc.d that refuses to start services keeps apt from starting nginx and Redis as
  # system daemons on ports 80 and 6379.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci only when the lock file changed since the last install.
stamp=socketio/node_modules/.package-lock.stamp
if [[ ! -f "$stamp" || socketio/package-lock.json -nt "$stamp" ]]; then
  npm ci --prefix socketio --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
