#!/usr/bin/env bash
# Saturation comparison (issue #6): each system as two instances on one Redis (bench/compare.sh's
# setup), broadcast from one sender on instance 1 to every connection at a fixed connection count
# and message size, the offered load raised step by step until the system saturates; then
# Switchboard at half its saturation rate, for the cross-instance latency (receivers on
# instance 2). Writes RESULTS_DIR/saturation.json and the "Saturation" section of
# docs/BENCHMARKS.md (bench/compare-report.mjs; the rest of the file is kept).
#   bench/saturate.sh            or   COMPARE_MODE=saturate bench/compare.sh
# A step fails when on-time deliveries/s (latency within SATURATE_DEADLINE) fall below 95% of
# the offered load, when anything is lost, when p99 exceeds the deadline, or when connections
# fail. A failed step runs again up to SATURATE_RETRIES times (on a shared machine one noisy
# window is not saturation); once it still fails the system is saturated and its figure is the
# highest on-time deliveries/s of the steps it passed.
# Environment:
#   SATURATE_CONNECTIONS=1000    connections, half on each instance
#   SATURATE_STEPS="25000 35000 50000 70000 100000 140000 200000 280000 400000 560000 800000"
#                                offered deliveries/s: the sender sends STEP / connections
#                                messages/s, each delivered to every connection
#   SATURATE_DEADLINE=1s         SATURATE_RETRIES=1      SATURATE_THREADS=2 (generator threads)
#   COMPARE_DURATION=10s (each step's window)   COMPARE_SIZE=256 (bytes)
#   COMPARE_SYSTEMS="switchboard socketio nchan"   SERVER_THREADS=1 (as bench/compare.sh)
#   COMPARE_QUICK=1              200 connections, steps 5000 20000 80000, 3 s windows, no retry
#   RESULTS_DIR (default: a new temp dir, kept)   COMPARE_DOCS=docs (where the report goes)
# Loopback only; every server stops by itself after COMPARE_MAX_SECONDS (default 3600) and every
# generator run after 180 s.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${COMPARE_QUICK:-0} == 1 ]]; then
  connections=${SATURATE_CONNECTIONS:-200}
  steps=${SATURATE_STEPS:-5000 20000 80000}
  duration=${COMPARE_DURATION:-3s}
  retries=${SATURATE_RETRIES:-0}
else
  connections=${SATURATE_CONNECTIONS:-1000}
  steps=${SATURATE_STEPS:-25000 35000 50000 70000 100000 140000 200000 280000 400000 560000 800000}
  duration=${COMPARE_DURATION:-10s}
  retries=${SATURATE_RETRIES:-1}
fi
deadline=${SATURATE_DEADLINE:-1s}
threads=${SATURATE_THREADS:-2}
size=${COMPARE_SIZE:-256}
server_threads=${SERVER_THREADS:-1}
systems=${COMPARE_SYSTEMS:-switchboard socketio nchan}
max_seconds=${COMPARE_MAX_SECONDS:-3600}
docs=${COMPARE_DOCS:-docs}
results=${RESULTS_DIR:-$(mktemp -d /tmp/switchboard-saturate.XXXXXX)}
mkdir -p "$results" "$docs"
bin=build/switchboard
log_prefix=saturate

source bench/compare-lib.sh

compare_setup
# Switchboard first: its half-saturation run needs its figure and its instances still up.
ordered=()
for system in $systems; do
  if [[ $system == switchboard ]]; then ordered=(switchboard "${ordered[@]}"); else ordered+=("$system"); fi
done
systems="${ordered[*]}"
: >"$results/steps.jsonl"
: >"$results/systems.jsonl"
rm -f "$results/half.json"

# record SYSTEM OFFERED ATTEMPT VERDICT FILE: one line of steps.jsonl.
record() {
  local report=null
  if [[ $4 != failed ]]; then report=$(cat "$5"); fi
  jq -nc --arg system "$1" --argjson offered "$2" --argjson attempt "$3" --arg verdict "$4" \
    --argjson report "$report" \
    '{system: $system, offered: $offered, attempt: $attempt, verdict: $verdict, report: $report}' \
    >>"$results/steps.jsonl"
}

redis=$(start_peer redis redis)
log "redis on $redis"
uptime >"$results/load-before.txt"

for system in $systems; do
  start_system "$system" "$redis"
  best=0
  saturated_at=null
  reason=null
  for offered in $steps; do
    for ((attempt = 1; ; attempt++)); do
      file=$results/$system-$offered-$attempt.json
      run_step "$system" "$offered" "$file"
      result=$(verdict "$offered" "$file")
      record "$system" "$offered" "$attempt" "$result" "$file"
      log "$system at $offered deliveries/s, attempt $attempt: $result"
      if [[ $result == ok ]] || ((attempt > retries)); then break; fi
    done
    if [[ $result != ok ]]; then
      saturated_at=$offered
      reason=\"$result\"
      break
    fi
    best=$(jq -r --argjson best "$best" '[.on_time_deliveries_per_second | floor, $best] | max' \
      "$file")
  done
  jq -nc --arg system "$system" --argjson best "$best" --argjson at "$saturated_at" \
    --argjson reason "$reason" \
    '{system: $system, saturation: (if $best > 0 then $best else null end),
      saturated_at: $at, reason: $reason}' >>"$results/systems.jsonl"
  log "$system: saturation $best on-time deliveries/s (failed at ${saturated_at/null/no step})"

  if [[ $system == switchboard ]] && [[ $best != 0 ]]; then
    half=$(awk -v best="$best" 'BEGIN { printf "%d", best / 2 }')
    file=$results/switchboard-half.json
    run_step switchboard "$half" "$file"
    if [[ -s $file ]]; then
      jq -c --argjson offered "$half" '{offered: $offered, report: .}' "$file" >"$results/half.json"
    fi
  fi
  stop_system "$system"
done
uptime >"$results/load-after.txt"

# --- Report -------------------------------------------------------------------------------------
jq -n --slurpfile steps "$results/steps.jsonl" --slurpfile systems "$results/systems.jsonl" \
  --argjson half "$(cat "$results/half.json" 2>/dev/null || echo null)" \
  --argjson connections "$connections" --argjson size "$size" --arg duration "$duration" \
  --arg deadline "$deadline" --argjson threads "$threads" --argjson retries "$retries" \
  --arg offered "$steps" \
  '{connections: $connections, message_size: $size, duration: $duration, deadline: $deadline,
    generator_threads: $threads, retries: $retries,
    offered: ($offered | split(" ") | map(select(. != "") | tonumber)),
    systems: $systems, steps: $steps, half: $half}' >"$results/saturation.json"
write_env "$results" "mode=saturate" "systems=$systems" "server_threads=$server_threads"
node bench/compare-report.mjs "$results" "$docs"
log "results in $results; report in $docs/BENCHMARKS.md (section Saturation)"
