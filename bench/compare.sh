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
#   COMPARE_IDLE=10000         idle connections per system (half on each instance) for the
#                              memory-per-connection comparison; 0 skips it (COMPARE_QUICK: 2000)
#   SERVER_THREADS=1           Switchboard shards per instance: two instances share the cores,
#                              so one each is one per core in all, as one Node process per
#                              instance (nginx keeps its default, a worker per core per instance);
#                              0 = one per core per instance
#   RESULTS_DIR (default: a new temp dir, kept)    COMPARE_DOCS=docs (where the report goes)
#   COMPARE_NOTES=FILE         hand-written notes on the run's conditions, appended to the report
#   COMPARE_MODE=saturate      the saturation comparison instead: bench/saturate.sh (its own
#                              environment, see there); default: this fixed-rate run
#   COMPARE_MODE=sse           event streams against Nchan's EventSource: bench/sse.sh
# Loopback only; every server stops by itself after COMPARE_MAX_SECONDS (default 900) and every
# generator run after 180 s.
set -euo pipefail
cd "$(dirname "$0")/.."

case ${COMPARE_MODE:-fixed} in
  fixed) ;;
  saturate) exec bench/saturate.sh ;;
  sse) exec bench/sse.sh ;;
  *) echo "compare: COMPARE_MODE is fixed, saturate or sse, not '$COMPARE_MODE'" >&2; exit 2 ;;
esac

if [[ ${COMPARE_QUICK:-0} == 1 ]]; then
  connections=${COMPARE_CONNECTIONS:-200 500}
  duration=${COMPARE_DURATION:-5s}
  idle=${COMPARE_IDLE:-2000}
else
  connections=${COMPARE_CONNECTIONS:-500 1000 2000}
  duration=${COMPARE_DURATION:-10s}
  idle=${COMPARE_IDLE:-10000}
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

source bench/compare-lib.sh

# --- Setup: peers, the build, gnuplot -----------------------------------------------------------
compare_setup
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

redis=$(start_peer redis redis)
log "redis on $redis"
uptime >"$results/load-before.txt"

for system in $systems; do
  start_system "$system" "$redis"
  for n in $connections; do
    log "$system: broadcast, $n connections, rate $rate, $size bytes, $duration"
    timeout --kill-after=10 180 "$bin" bench broadcast --target "$system" --connections "$n" \
      --rate "$rate" --message-size "$size" --duration "$duration" "${instance_args[@]}" \
      --output-json "$results/$system-$n.json" >&2 ||
      log "$system at $n connections failed (exit $?)"
  done
  if ((idle > 0)); then
    # Memory per idle connection: connect, hold, read RSS growth; several source addresses keep
    # clear of the ephemeral port range of one address.
    log "$system: idle, $idle connections"
    timeout --kill-after=10 180 "$bin" bench idle --target "$system" --connections "$idle" \
      --duration 3s --source-addresses 127.0.0.1-127.0.0.4 "${instance_args[@]}" \
      --output-json "$results/$system-idle.json" >&2 ||
      log "$system idle at $idle connections failed (exit $?)"
  fi
  stop_system "$system"
done
uptime >"$results/load-after.txt"

# --- Report -------------------------------------------------------------------------------------
write_env "$results" "connections=$connections" "rate=$rate" "size=$size" "duration=$duration" \
  "systems=$systems" "server_threads=$server_threads" "idle=$idle"

node bench/compare-report.mjs "$results" "$docs" "${COMPARE_NOTES:-}"
if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -e "data='$results/plot.dat'; out='$docs/benchmarks.png'" bench/compare.gp
fi
log "results in $results; report in $docs/BENCHMARKS.md"
