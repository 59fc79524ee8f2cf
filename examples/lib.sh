# shellcheck shell=bash
# Shared by the examples' run.sh scripts (sourced, not run): process bookkeeping, Ctrl-C handling and
# readiness polls in plain bash, so the examples need neither curl nor the servers' CLIs.
#
# The sourcing script sets `work` (a temp dir removed at exit) and appends the pids of what it starts to
# `pids` (all told SIGTERM together at exit). `stop_backends`, if the script defines it, runs once those
# exited: a server the instances use can then stop after they drained their clients.

pids=()
ports=()
stopping=0

log() { echo "[run.sh] $*"; }

# Stops every process in `pids` (SIGTERM, SIGKILL after 10 s), then removes `work`.
cleanup() {
  local status=$?
  ((stopping)) && return
  stopping=1
  trap - INT TERM
  if ((${#pids[@]} > 0)); then
    log "stopping ${#pids[@]} process(es)"
    # Background jobs of a script ignore SIGINT, so they are told with SIGTERM.
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  fi
  if declare -F stop_backends >/dev/null; then stop_backends; fi
  rm -rf "${work:?}"
  log "stopped"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls a command until it succeeds, at most `seconds`.
wait_until() {  # seconds command...
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.1
  done
}

# Plain bash (/dev/tcp). Subshells: the fds close with them, and "connection refused" stays quiet.
http_status() (  # host port path -> prints the status code
  exec 2>/dev/null 4<>"/dev/tcp/$1/$2" || exit 1
  printf 'GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$3" "$1" "$2" >&4
  IFS= read -r -t 2 line <&4 || exit 1
  line=${line#HTTP/1.1 }
  echo "${line%% *}"
)

ready() {  # host port
  [[ $(http_status "$1" "$2" /readyz) == 200 ]]
}

# Starts INSTANCES `switchboard serve` on HOST:BASE_PORT+i with the given backplane and extra arguments,
# and waits until each answers /readyz; sets `ports`.
start_instances() {  # backplane serve-args...
  local backplane=$1
  shift
  ports=()
  local i port
  for ((i = 0; i < INSTANCES; i++)); do
    port=$((BASE_PORT + i))
    ports+=("$port")
    "$SWITCHBOARD_BIN" serve --listen "$HOST:$port" --backplane "$backplane" --server-name "instance-$i-$port" \
      --static-dir "$STATIC_DIR" "$@" > >(sed -u "s/^/[instance-$i] /") 2>&1 &
    pids+=($!)
  done
  for port in "${ports[@]}"; do
    if ! wait_until 20 ready "$HOST" "$port"; then
      echo "run.sh: the instance on port $port is not ready (is the port free? is the backplane reachable?)" >&2
      exit 1
    fi
  done
}

# Until Ctrl-C, or until one of the processes dies (then stop the rest and fail).
wait_for_exit() {
  set +e
  wait -n "${pids[@]}"
  local status=$?
  echo "run.sh: a process exited (status $status); stopping the others" >&2
  exit 1
}
