#!/usr/bin/env bash
# Backplane comparison (issue #13): for each bus (Redis, PostgreSQL, NATS), on one machine in one
# run so the figures compare:
#   1. publishes/s from one instance: `switchboard bench backplane-publish` as fast as the bus
#      delivers to another instance's backplane, then at half that rate for the publish-to-
#      receipt latency (p50/p99) and the bus server's CPU per million publications;
#   2. broadcast through two `switchboard serve` instances on the bus: one sender on instance 1,
#      receivers on both, the offered load raised step by step until a step fails (as
#      bench/saturate.sh judges one), then at half the saturation for the cross-instance latency.
# Writes RESULTS_DIR/backplanes.json and backplanes.md (the table docs/backplanes.md quotes).
#   bench/backplanes.sh           BACKPLANE_QUICK=1 bench/backplanes.sh (a smoke run, ~1 min)
# Environment:
#   BACKPLANE_BUSES="redis postgres nats"   BACKPLANE_CONNECTIONS=1000
#   BACKPLANE_STEPS="50000 100000 200000 400000 800000 1200000 1600000"   (offered deliveries/s)
#   COMPARE_DURATION=10s   COMPARE_SIZE=256   SATURATE_DEADLINE=1s   SATURATE_THREADS=2
#   SERVER_THREADS=1       RESULTS_DIR (default: a new temp dir, kept)   SWITCHBOARD_BIN
# Loopback only; every server stops by itself after COMPARE_MAX_SECONDS (default 3600) and every
# generator run after 180 s.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${BACKPLANE_QUICK:-0} == 1 ]]; then
  connections=${BACKPLANE_CONNECTIONS:-200}
  steps=${BACKPLANE_STEPS:-10000 40000}
  duration=${COMPARE_DURATION:-2s}
else
  connections=${BACKPLANE_CONNECTIONS:-1000}
  steps=${BACKPLANE_STEPS:-50000 100000 200000 400000 800000 1200000 1600000}
  duration=${COMPARE_DURATION:-10s}
fi
buses=${BACKPLANE_BUSES:-redis postgres nats}
deadline=${SATURATE_DEADLINE:-1s}
threads=${SATURATE_THREADS:-2}
size=${COMPARE_SIZE:-256}
server_threads=${SERVER_THREADS:-1}
max_seconds=${COMPARE_MAX_SECONDS:-3600}
results=${RESULTS_DIR:-$(mktemp -d /tmp/switchboard-backplanes.XXXXXX)}
mkdir -p "$results"
bin=${SWITCHBOARD_BIN:-build/switchboard}
log_prefix=backplanes

source bench/compare-lib.sh

if [[ ! -x $bin ]]; then make build JOBS=1; fi
: >"$results/buses.jsonl"

# publish BUS URL PID RATE FILE: one backplane-publish window.
publish() {
  timeout --kill-after=10 180 "$bin" bench backplane-publish --backplane "$2" --server-pid "$3" \
    --rate "$4" --duration "$duration" --message-size "$size" --output-json "$5" >&2 ||
    log "$1: backplane-publish at rate $4 failed (exit $?)"
}

for bus in $buses; do
  url=$(start_peer "$bus" "$bus")
  bus_pid=$(cat "$state/$bus.pid")
  log "$bus on $url"

  publish "$bus" "$url" "$bus_pid" 0 "$results/$bus-publish.json"
  half_rate=$(jq -r '.publishes_per_second / 2 | floor' "$results/$bus-publish.json" 2>/dev/null || echo 0)
  if ((half_rate > 0)); then
    publish "$bus" "$url" "$bus_pid" "$half_rate" "$results/$bus-publish-half.json"
  fi

  start_system switchboard "$url"
  best=0
  saturated_at=null
  for offered in $steps; do
    file=$results/$bus-broadcast-$offered.json
    run_step switchboard "$offered" "$file"
    result=$(verdict "$offered" "$file")
    log "$bus: broadcast at $offered deliveries/s: $result"
    if [[ $result != ok ]]; then
      saturated_at=$offered
      break
    fi
    best=$(jq -r --argjson best "$best" '[.on_time_deliveries_per_second | floor, $best] | max' "$file")
  done
  if ((best > 0)); then
    run_step switchboard "$((best / 2))" "$results/$bus-broadcast-half.json"
  fi
  stop_system switchboard
  bench/peers/stop.sh "$state/$bus.pid"

  jq -nc --arg bus "$bus" --argjson best "$best" --argjson at "$saturated_at" \
    --slurpfile publish <(cat "$results/$bus-publish.json" 2>/dev/null || echo null) \
    --slurpfile publish_half <(cat "$results/$bus-publish-half.json" 2>/dev/null || echo null) \
    --slurpfile half <(cat "$results/$bus-broadcast-half.json" 2>/dev/null || echo null) \
    '{bus: $bus, publish: $publish[0], publish_half: $publish_half[0],
      broadcast_saturation: (if $best > 0 then $best else null end), broadcast_failed_at: $at,
      broadcast_half: $half[0]}' >>"$results/buses.jsonl"
done

jq -s '.' "$results/buses.jsonl" >"$results/backplanes.json"
jq -r --argjson connections "$connections" --arg duration "$duration" '
  def ms: if . == null then "-" else (. / 1000 * 100 | round / 100 | tostring) end;
  def n: if . == null then "-" else (. | floor | tostring) end;
  "| bus | publishes/s, one instance | p50 / p99 ms at half | bus CPU s per 1M | broadcast deliveries/s, 2 instances | cross-instance p50 / p99 ms at half |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  (.[] | "| \(.bus) | \(.publish.publishes_per_second | n) | \(.publish_half.latency_us.p50 | ms) / \(.publish_half.latency_us.p99 | ms) | \(.publish_half.server.cpu_seconds_per_million_publishes // null | if . == null then "-" else (. * 100 | round / 100 | tostring) end) | \(.broadcast_saturation | n) | \(.broadcast_half.cross_instance.latency_us.p50 | ms) / \(.broadcast_half.cross_instance.latency_us.p99 | ms) |")
' "$results/backplanes.json" >"$results/backplanes.md"
cat "$results/backplanes.md"
log "results in $results"
