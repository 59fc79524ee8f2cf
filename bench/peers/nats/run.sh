#!/usr/bin/env bash
# Runs a nats-server in the foreground for the backplane benchmarks; prints
# "listening on nats://127.0.0.1:PORT" once it greets clients.
#   bench/peers/nats/run.sh [--port N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$here/../lib.sh"
port=0
if [[ "${1:-}" == "--port" ]]; then port=$2; fi
host=127.0.0.1
server=$(command -v nats-server || echo /usr/sbin/nats-server)
if [[ ! -x "$server" ]]; then
  echo "nats: nats-server is missing: apt-get install nats-server" >&2
  exit 1
fi
dir=$(mktemp -d -t switchboard-peer-nats.XXXXXX)
pid=""
cleanup() {
  trap '' TERM INT
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

start() {  # port
  "$server" -a "$host" -p "$1" -l "$dir/nats.log" &
  pid=$!
}
answers() (  # port: the INFO line every NATS server greets a client with
  exec 2>/dev/null 3<>"/dev/tcp/$host/$1" || exit 1
  IFS= read -r -t 1 line <&3 || exit 1
  [[ $line == INFO* ]]
)
banner() {  # port
  echo "nats $("$server" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')"
  echo "listening on nats://$host:$1"
}
serve_when_ready nats "$port" "$host" "$dir/nats.log" start answers banner
