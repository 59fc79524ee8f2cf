#!/usr/bin/env bash
# Switchboard next to its peers (issue #6): the same broadcast scenario, the same message size and
# rate, driven by `switchboard bench --target` against two instances of each system on one Redis
# (senders on instance 1, receivers on both: cross-instance delivery). Writes the JSON results to
# a results dir and docs/BENCHMARKS.md with docs/benchmarks.png.
#   bench/compare.sh
# Environment:
#   COMPARE_QUICK=1            200 and 500 connections, 5 s windows (a few minutes in all)
#   COMPARE_CONNECTIONS="500 1000 2000"   COMPARE_RATE=25 (messages/s of the one sender)
#   COMPARE_DURATION=10s       COMPARE_SIZE=256 (bytes)
#   COMPARE_SYSTEMS="switchboard socketio nchan"
#   SERVER_THREADS=1           Switchboard shards per instance: two instances share the cores,
#                              so one each is one per core in all, as one Node process per
#                              instance (nginx keeps its default, a worker per core per instance);
#                              0 = one per core per instance
#   RESULTS_DIR (default: a new temp dir, kept)    COMPARE_DOCS=docs (where the report goes)
#   COMPARE_NOTES=FILE         hand-written notes on the run's conditions, appended to the report
# Loopback only; every server stops by itself after COMPARE_MAX_SECONDS (default 900) and every
# generator run after 180 s.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${COMPARE_QUICK:-0} == 1 ]]; then
  connections=${COMPARE_CONNECTIONS:-200 500}
  duration=${COMPARE_DURATION:-5s}
else
  connections=${COMPARE_CONNECTIONS:-500 1000 2000}
  duration=${COMPARE_DURATION:-10s}
fi
rate=${COMPARE_RATE:-25}
size=${COMPARE_SIZE:-256}
server_threads=${SERVER_THREADS:-1}
systems=${COMPARE_SYSTEMS:-switchboard socketio nchan}
max_seconds=${COMPARE_MAX_SECONDS:-900}
docs=${COMPARE_DOCS:-docs}
results=${RESULTS_DIR:-$(mktemp -d /tmp/switchboard-compare.XXXXXX)}
mkdir -p "$results" "$docs"
bin=build/switchboard

log() { echo "compare: $*" >&2; }

# --- Setup: peers, the build, gnuplot -----------------------------------------------------------
bench/peers/install.sh
if [[ ! -x $bin ]]; then
  make build JOBS=1
fi
if ! command -v gnuplot >/dev/null 2>&1; then
  # Debian's libboost-dev would displace the Boost the build uses (DESIGN.md): refuse if
  # gnuplot-nox would pull it in.
  if apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances gnuplot-nox 2>/dev/null | grep -q 'libboost-dev'; then
    log "gnuplot-nox would pull libboost-dev: not installing it; no plot"
  else
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      gnuplot-nox >&2 || log "could not install gnuplot-nox; no plot"
  fi
fi

# --- Servers: every one detached with a pid file, stopped on exit -------------------------------
state=$(mktemp -d)
cleanup() {
  for f in "$state"/*.pid; do
    [[ -e $f ]] && bench/peers/stop.sh "$f" || true
  done
  rm -rf "$state"
}
trap cleanup EXIT

# start NAME PEER [start.sh args...]: prints the URL.
start_peer() {
  local name=$1
  shift
  bench/peers/start.sh "$@" --max-seconds "$max_seconds" --pid-file "$state/$name.pid" |
    awk '/^listening on /{print $3}'
}

# Switchboard as bench/run.sh starts it (per-client limits and presence events off), on the Redis backplane, bounded
# and detached like the peers so that bench/peers/stop.sh stops it.
start_switchboard() {
  local redis=$2 pid_file=$state/$1.pid
  setsid timeout --kill-after=10 "$max_seconds" "$bin" serve --listen 127.0.0.1:0 \
    --static-dir '' --threads "$server_threads" --backplane "$redis" --max-messages-per-second 0 \
    --max-connections-per-ip 0 --max-connections-per-user 0 --negotiate-rate-per-ip 0 \
    --chat-presence-events false --log-level warn >"$pid_file.log" 2>&1 </dev/null &
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

redis=$(start_peer redis redis)
log "redis on $redis"
uptime >"$results/load-before.txt"

for system in $systems; do
  urls=()
  pids=()
  for i in 1 2; do
    if [[ $system == switchboard ]]; then
      urls+=("$(start_switchboard "$system$i" "$redis")")
    else
      urls+=("$(start_peer "$system$i" "$system" --redis "$redis")")
    fi
    pids+=("$(cat "$state/$system$i.pid")")
  done
  log "$system on ${urls[*]}"
  for n in $connections; do
    log "$system: broadcast, $n connections, rate $rate, $size bytes, $duration"
    args=(broadcast --target "$system" --connections "$n" --rate "$rate" --message-size "$size"
      --duration "$duration" --output-json "$results/$system-$n.json")
    for u in "${urls[@]}"; do args+=(--url "$u"); done
    for p in "${pids[@]}"; do args+=(--server-pid "$p"); done
    timeout --kill-after=10 180 "$bin" bench "${args[@]}" >&2 ||
      log "$system at $n connections failed (exit $?)"
  done
  for i in 1 2; do
    bench/peers/stop.sh "$state/$system$i.pid"
  done
done
uptime >"$results/load-after.txt"

# --- Report -------------------------------------------------------------------------------------
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
  echo "connections=$connections"
  echo "rate=$rate"
  echo "size=$size"
  echo "duration=$duration"
  echo "systems=$systems"
  echo "server_threads=$server_threads"
} >"$results/env.txt"

node bench/compare-report.mjs "$results" "$docs" "${COMPARE_NOTES:-}"
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -e "data='$results/plot.dat'; out='$docs/benchmarks.png'" bench/compare.gp
fi
log "results in $results; report in $docs/BENCHMARKS.md"
