# shellcheck shell=bash
# Shared by bench/compare.sh and bench/saturate.sh (sourced, not run): installs the peers,
# builds Switchboard, starts and stops the systems under comparison (two instances each on one
# Redis), and describes the machine and versions of a run.
# The caller sets `bin` (the switchboard binary), `max_seconds` (every server's lifetime) and
# `server_threads` (Switchboard's shards per instance), and runs under `set -euo pipefail` from
# the repository's root.
# shellcheck disable=SC2154  # bin, max_seconds, server_threads and the step parameters: the caller's

log() { echo "${log_prefix:-compare}: $*" >&2; }

compare_setup() {
  bench/peers/install.sh
  if [[ ! -x $bin ]]; then
    make build JOBS=1
  fi
}

# --- Servers: every one detached with a pid file, stopped on exit -------------------------------
state=$(mktemp -d)
cleanup() {
  for f in "$state"/*.pid; do
    if [[ -e $f ]]; then bench/peers/stop.sh "$f" || true; fi
  done
  rm -rf "$state"
}
trap cleanup EXIT

# start_peer NAME PEER [start.sh args...]: prints the URL.
start_peer() {
  local name=$1
  shift
  bench/peers/start.sh "$@" --max-seconds "$max_seconds" --pid-file "$state/$name.pid" |
    awk '/^listening on /{print $3}'
}

# Switchboard as bench/run.sh starts it (per-client limits and presence events off), on the Redis
# backplane (none when REDIS is empty), bounded and detached like the peers so that
# bench/peers/stop.sh stops it.
# start_switchboard NAME REDIS [serve flags...]: prints the chat hub's URL.
start_switchboard() {
  local pid_file=$state/$1.pid backplane=()
  if [[ -n $2 ]]; then backplane=(--backplane "$2"); fi
  shift 2
  setsid timeout --kill-after=10 "$max_seconds" "$bin" serve --listen 127.0.0.1:0 \
    --static-dir '' --threads "$server_threads" "${backplane[@]}" --max-messages-per-second 0 \
    --max-connections-per-ip 0 --max-connections-per-user 0 --negotiate-rate-per-ip 0 \
    --chat-presence-events false --log-level warn "$@" >"$pid_file.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 300); do
    if url=$(grep -m1 -oE 'listening on http://[^ ]+' "$pid_file.log"); then
      echo "${url#listening on }/hubs/chat"
      return 0
    fi
    kill -0 "$(cat "$pid_file")" 2>/dev/null || break
    sleep 0.1
  done
  log "switchboard did not start:"
  cat "$pid_file.log" >&2
  return 1
}

# start_system SYSTEM REDIS [serve flags...]: two instances of SYSTEM on the Redis at REDIS
# (Switchboard's with the flags); sets `urls` and `pids`, and `instance_args` (--url and
# --server-pid of both, for `switchboard bench`).
start_system() {
  local system=$1 redis=$2 i
  shift 2
  urls=()
  pids=()
  instance_args=()
  for i in 1 2; do
    if [[ $system == switchboard ]]; then
      urls+=("$(start_switchboard "$system$i" "$redis" "$@")")
    else
      urls+=("$(start_peer "$system$i" "$system" --redis "$redis")")
    fi
    pids+=("$(cat "$state/$system$i.pid")")
    instance_args+=(--url "${urls[-1]}" --server-pid "${pids[-1]}")
  done
  log "$system on ${urls[*]}"
}

stop_system() {
  local i
  for i in 1 2; do
    bench/peers/stop.sh "$state/$1$i.pid"
  done
}

# --- Broadcast steps (bench/saturate.sh, bench/backplanes.sh) -----------------------------------
# The caller also sets `connections`, `size`, `duration`, `deadline` and `threads`, and
# start_system the instances (`instance_args`).
# run_step SYSTEM OFFERED FILE: one broadcast run at OFFERED deliveries/s, its report in FILE.
run_step() {
  local system=$1 offered=$2 file=$3 rate
  rate=$(awk -v offered="$offered" -v n="$connections" 'BEGIN { printf "%.6g", offered / n }')
  log "$system: $offered deliveries/s offered ($connections connections, $rate messages/s)"
  rm -f "$file"
  timeout --kill-after=10 180 "$bin" bench broadcast --target "$system" \
    --connections "$connections" --rate "$rate" --message-size "$size" --duration "$duration" \
    --deadline "$deadline" --threads "$threads" "${instance_args[@]}" --output-json "$file" \
    >&2 || log "$system at $offered deliveries/s failed (exit $?)"
}

# verdict OFFERED FILE: ok, or why the step failed (failed, connect, lost, late, p99).
verdict() {
  if [[ ! -s $2 ]]; then
    echo failed
    return
  fi
  jq -r --argjson offered "$1" --argjson connections "$connections" '
    if .connected < $connections then "connect"
    elif .lost > 0 then "lost"
    elif .on_time_deliveries_per_second < 0.95 * $offered then "late"
    elif .latency_us.p99 > .deadline_ms * 1000 then "p99"
    else "ok" end' "$2" 2>/dev/null || echo failed
}

# write_env RESULTS_DIR [key=value...]: env.txt, the run's machine, versions and load average
# (RESULTS_DIR/load-before.txt and load-after.txt, from uptime), then the caller's parameters.
write_env() {
  local results=$1
  shift
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "nproc=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "memory=$(free -g | awk '/^Mem:/{print $2 " GiB"}')"
    echo "switchboard=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (modified)')"
    echo "socketio=$(node -p "require('./bench/peers/socketio/node_modules/socket.io/package.json').version")"
    echo "redis_adapter=$(node -p "require('./bench/peers/socketio/node_modules/@socket.io/redis-adapter/package.json').version")"
    echo "node=$(node --version)"
    echo "nchan=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo '?')"
    echo "nginx=$(nginx -v 2>&1 | sed 's|.*/||')"
    echo "redis=$(redis-server --version | grep -oE 'v=[^ ]+' | cut -d= -f2)"
    echo "load_before=$(sed 's/.*load average: //' "$results/load-before.txt")"
    echo "load_after=$(sed 's/.*load average: //' "$results/load-after.txt")"
    printf '%s\n' "$@"
  } >"$results/env.txt"
}
