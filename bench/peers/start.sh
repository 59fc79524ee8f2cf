#!/usr/bin/env bash
# Starts one peer server on a free loopback port and prints "listening on URL" once it answers.
#   bench/peers/start.sh socketio|nchan|redis|postgres|nats [--redis URL] [--port N] [--max-seconds N]
#                        [--pid-file FILE]
# In the foreground it runs until SIGTERM/SIGINT. With --pid-file it detaches once ready,
# prints the URL line and returns; bench/peers/stop.sh FILE stops it. Either way the peer stops
# by itself after --max-seconds (default 3600): loads here are bounded in time.
#   redis      a throwaway redis-server in a temp dir (prints redis://127.0.0.1:PORT), for
#              the peers' --redis when two instances share one bus.
#   postgres   a throwaway PostgreSQL cluster, nats a nats-server: the other buses of
#              bench/backplanes.sh (print postgres://... and nats://... URLs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# >= 1)) || usage
peer=$1
shift
redis=""
port=0
max_seconds=3600
pid_file=""
while (($# > 0)); do
  case "$1" in
    --redis) redis=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --pid-file) pid_file=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "start.sh: unknown argument $1" >&2; usage ;;
  esac
done

case "$peer" in
  socketio)
    if [[ ! -d "$here/socketio/node_modules/socket.io" ]]; then
      echo "socketio: dependencies missing: run bench/peers/install.sh" >&2
      exit 1
    fi
    command=(env REDIS_URL="$redis" node "$here/socketio/server.mjs" "$port") ;;
  nchan)
    command=("$here/nchan/run.sh" --port "$port")
    if [[ -n "$redis" ]]; then command+=(--redis "$redis"); fi ;;
  redis|postgres|nats)
    command=("$here/$peer/run.sh" --port "$port") ;;
  *) echo "start.sh: unknown peer '$peer' (socketio, nchan, redis, postgres, nats)" >&2; exit 2 ;;
esac

# timeout(1) forwards SIGTERM/SIGINT to the peer and ends it after max_seconds; the peers clean
# up their temp dirs on SIGTERM. --kill-after bounds a peer that ignores it.
bounded=(timeout --kill-after=10 "$max_seconds" "${command[@]}")

if [[ -z "$pid_file" ]]; then
  exec "${bounded[@]}"
fi

# Detached: the peer's output goes to a log beside the pid file; wait (bounded) for its URL.
log="$pid_file.log"
: >"$log"
setsid "${bounded[@]}" >"$log" 2>&1 </dev/null &
echo $! >"$pid_file"
for _ in $(seq 300); do
  if line=$(grep -m1 -E '^listening on ' "$log"); then
    echo "$line"
    exit 0
  fi
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "start.sh: $peer did not start; its log ($log):" >&2
cat "$log" >&2
"$here/stop.sh" "$pid_file" || true
exit 1
