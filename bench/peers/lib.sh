# Shell functions shared by the peers' run.sh scripts; sourced, never run.
# shellcheck shell=bash

# serve_when_ready NAME PORT HOST LOG START READY BANNER
# Starts a server in the foreground of the calling script and hands it over once it answers.
# PORT 0 picks a free loopback port, and a port taken between picking and binding it costs a
# retry (3 attempts); a given PORT is tried once. The caller's functions do the server's part:
#   START CHOSEN    starts it in the background and sets the global `pid` (the caller's
#                   cleanup trap stops it)
#   READY CHOSEN    succeeds once it serves
#   BANNER CHOSEN   prints its version line and "listening on URL"
# Readiness is waited for 10 s per attempt; a failed attempt prints LOG. Never returns: exits
# with the server's status once it ends, or 1 when it did not start.
serve_when_ready() {
  local name=$1 port=$2 host=$3 log=$4 start=$5 ready=$6 banner=$7
  local peers_dir attempt chosen
  peers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  for attempt in 1 2 3; do
    chosen=$port
    if [[ "$chosen" == 0 ]]; then chosen=$(node "$peers_dir/free-port.mjs" "$host"); fi
    "$start" "$chosen"
    for _ in $(seq 100); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if "$ready" "$chosen"; then
        "$banner" "$chosen"
        wait "$pid"
        exit $?
      fi
      sleep 0.1
    done
    # Not ready in time (or the port was taken): end this attempt, show why, maybe retry.
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    cat "$log" >&2 || true
    if [[ "$port" != 0 || $attempt == 3 ]]; then
      echo "$name: did not start" >&2
      exit 1
    fi
  done
}
