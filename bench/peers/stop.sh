#!/usr/bin/env bash
# Stops a peer started with bench/peers/start.sh --pid-file FILE: SIGTERM, then SIGKILL after
# 10 s; removes the pid file and its log.
#   bench/peers/stop.sh FILE
set -euo pipefail
pid_file=${1:?usage: bench/peers/stop.sh PID_FILE}
[[ -f "$pid_file" ]] || exit 0
pid=$(cat "$pid_file")
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  # The peer ignored SIGTERM: end its whole session (setsid made it a group leader).
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$pid_file" "$pid_file.log"
