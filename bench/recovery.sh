#!/usr/bin/env bash
# Recovery on vs off (issue 20): broadcast through two `switchboard serve` instances on one fresh
# Redis, one sender on instance 1, receivers on both, in three modes on the same machine in one
# run so the figures compare:
#   plain     no --durable-window (Redis pub/sub), clients not stateful (no negotiate)
#   stateful  no --durable-window, clients negotiate stateful reconnect and ack every second
#             (`switchboard bench --stateful`): each instance keeps a replay buffer per client
#   durable   --durable-window 30s (one Redis stream is the bus and the log), stateful clients
#   durable-plain  the durable servers with plain clients: what durable mode costs the clients
#             that do not ask for recovery (not in the default RECOVERY_MODES)
# At each of RECOVERY_STEPS offered deliveries/s, every mode gets its own fresh instances (a
# mode's RSS and stream must not carry into the next) and the modes alternate step by step, so a
# noisy moment on a shared machine falls on all three alike. Prints and keeps
# (RESULTS_DIR/recovery.md) a markdown table with deliveries/s, p50/p99, server CPU per million
# deliveries (the two instances over the window and drain, as `switchboard bench` reads them;
# Redis over the whole run, connecting included, read here) and ratios against plain.
#   bench/recovery.sh             RECOVERY_QUICK=1 bench/recovery.sh (a smoke run, ~1 min)
# Environment:
#   RECOVERY_CONNECTIONS=1000   RECOVERY_STEPS="20000 50000 100000" (offered deliveries/s)
#   RECOVERY_MODES="plain stateful durable"   RECOVERY_WINDOW=30s (durable mode's --durable-window)
#   COMPARE_DURATION=10s   COMPARE_SIZE=256   SATURATE_DEADLINE=1s   SATURATE_THREADS=2
#   SERVER_THREADS=1       RESULTS_DIR (default: a new temp dir, kept)   SWITCHBOARD_BIN
#   RECOVERY_REPORT_ONLY=1 no runs: the report of the results already in RESULTS_DIR
# Loopback only; every server stops by itself after COMPARE_MAX_SECONDS (default 1800) and every
# generator run after 180 s; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${RECOVERY_QUICK:-0} == 1 ]]; then
  connections=${RECOVERY_CONNECTIONS:-200}
  steps=${RECOVERY_STEPS:-10000}
  duration=${COMPARE_DURATION:-3s}
else
  connections=${RECOVERY_CONNECTIONS:-1000}
  steps=${RECOVERY_STEPS:-20000 50000 100000}
  duration=${COMPARE_DURATION:-10s}
fi
modes=${RECOVERY_MODES:-plain stateful durable}
window=${RECOVERY_WINDOW:-30s}
deadline=${SATURATE_DEADLINE:-1s}
threads=${SATURATE_THREADS:-2}
size=${COMPARE_SIZE:-256}
server_threads=${SERVER_THREADS:-1}
max_seconds=${COMPARE_MAX_SECONDS:-1800}
results=${RESULTS_DIR:-$(mktemp -d /tmp/switchboard-recovery.XXXXXX)}
mkdir -p "$results"
bin=${SWITCHBOARD_BIN:-build/switchboard}
log_prefix=recovery

source bench/compare-lib.sh

# serve_args MODE / bench_args MODE: what a mode adds to `serve` and to `bench`.
serve_args() { if [[ $1 == durable* ]]; then echo "--durable-window $window"; fi; }
bench_args() { if [[ $1 == stateful || $1 == durable ]]; then echo "--stateful"; fi; }
# tree_cpu PID: user + system CPU seconds of the session PID leads (start.sh uses setsid), so
# redis-server under its timeout(1) wrapper is counted.
tree_cpu() {
  local p
  for p in $(pgrep -s "$1"); do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
    awk -v tck="$(getconf CLK_TCK)" '{ s += $12 + $13 } END { printf "%.3f", s / tck }'
}

if [[ ${RECOVERY_REPORT_ONLY:-0} != 1 ]]; then
  if [[ ! -x $bin ]]; then make build JOBS=1; fi
  uptime >"$results/load-before.txt"
  for offered in $steps; do
    rate=$(awk -v offered="$offered" -v n="$connections" 'BEGIN { printf "%.6g", offered / n }')
    for mode in $modes; do
      # A fresh Redis per run: a durable run leaves a stream behind, and its CPU is the run's.
      redis=$(start_peer redis redis)
      redis_pid=$(cat "$state/redis.pid")
      urls=()
      args=()
      for i in 1 2; do
        # shellcheck disable=SC2046  # serve_args is empty or two words
        urls+=("$(start_switchboard "sb$i" "$redis" $(serve_args "$mode"))")
        args+=(--url "${urls[-1]}" --server-pid "$(cat "$state/sb$i.pid")")
      done
      file=$results/$mode-$offered.json
      log "$mode: $offered deliveries/s offered ($connections connections, $rate messages/s, ${urls[*]})"
      rm -f "$file"
      redis_before=$(tree_cpu "$redis_pid")
      # shellcheck disable=SC2046  # bench_args is empty or one word
      timeout --kill-after=10 180 "$bin" bench broadcast --connections "$connections" \
        --rate "$rate" --message-size "$size" --duration "$duration" --deadline "$deadline" \
        --threads "$threads" $(bench_args "$mode") "${args[@]}" \
        --output-json "$file" >&2 || log "$mode at $offered deliveries/s failed (exit $?)"
      awk -v a="$(tree_cpu "$redis_pid")" -v b="$redis_before" 'BEGIN { printf "%.3f\n", a - b }' \
        >"$results/$mode-$offered.redis-cpu"
      for name in sb1 sb2 redis; do
        if grep -qiE 'error|fatal' "$state/$name.pid.log" 2>/dev/null; then
          log "$mode: $name logged errors:"
          grep -iE 'error|fatal' "$state/$name.pid.log" | head -5 >&2
        fi
        bench/peers/stop.sh "$state/$name.pid"
      done
    done
  done
  uptime >"$results/load-after.txt"
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "nproc=$(nproc)"
    echo "switchboard=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (modified)')"
    echo "redis=$(redis-server --version | grep -oE 'v=[^ ]+' | cut -d= -f2)"
    echo "load_before=$(sed 's/.*load average: //' "$results/load-before.txt")"
    echo "load_after=$(sed 's/.*load average: //' "$results/load-after.txt")"
    echo "connections=$connections steps=$steps modes=$modes window=$window"
    echo "duration=$duration size=$size threads=$threads server_threads=$server_threads"
  } >"$results/env.txt"
fi

# --- Report: markdown on stdout and in RESULTS_DIR/recovery.md -----------------------------------
# field FILE JQ: a figure of a report, "-" when the run left none.
field() { if [[ -s $1 ]]; then jq -r "$2" "$1"; else echo "-"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# redis_per_million BASE: Redis CPU s per million deliveries of run BASE (.json, .redis-cpu).
redis_per_million() {
  if [[ -s $1.json && -s $1.redis-cpu ]]; then
    jq -r --argjson cpu "$(cat "$1.redis-cpu")" \
      'if .received > 0 then $cpu / (.received / 1e6) * 100 | round / 100 else "-" end' "$1.json"
  else echo "-"; fi
}
# total_per_million BASE: instances + Redis.
total_per_million() {
  awk -v a="$(field "$1.json" .server.cpu_seconds_per_million_deliveries)" -v b="$(redis_per_million "$1")" \
    'BEGIN { if (a == "-" || b == "-" || a == "null") print "-"; else printf "%.2f", a + b }'
}
{
  echo "Broadcast over 2 instances on one Redis: $connections connections (half on each), one sender"
  echo "on instance 1, $size-byte messages, $duration windows; durable mode: --durable-window $window."
  grep -E '^(date|cpu|nproc|load_before|load_after|switchboard)=' "$results/env.txt" | paste -sd' '
  echo
  # CPU s per 1M deliveries: the two instances (window and drain), Redis (the whole run), both.
  echo "| offered/s | mode | deliveries/s | on-time/s | p50 ms | p99 ms | cross-instance p99 ms | lost | instances CPU s per 1M | Redis CPU s per 1M | deliveries/s vs plain | p99 vs plain | CPU (instances + Redis) vs plain |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for offered in $steps; do
    p=$results/plain-$offered.json
    for mode in $modes; do
      f=$results/$mode-$offered.json
      echo "| $offered | $mode | $(field "$f" '.deliveries_per_second | floor') |" \
        "$(field "$f" '.on_time_deliveries_per_second | floor') |" \
        "$(field "$f" '.latency_us.p50 / 1000 * 100 | round / 100') |" \
        "$(field "$f" '.latency_us.p99 / 1000 * 100 | round / 100') |" \
        "$(field "$f" '(.cross_instance.latency_us.p99 // null) | if . == null then "-" else (. / 1000 * 100 | round / 100) end') |" \
        "$(field "$f" '.lost') |" \
        "$(field "$f" '.server.cpu_seconds_per_million_deliveries * 100 | round / 100') |" \
        "$(redis_per_million "${f%.json}") |" \
        "$(ratio "$(field "$f" .deliveries_per_second)" "$(field "$p" .deliveries_per_second)") |" \
        "$(ratio "$(field "$f" .latency_us.p99)" "$(field "$p" .latency_us.p99)") |" \
        "$(ratio "$(total_per_million "${f%.json}")" "$(total_per_million "${p%.json}")") |"
    done
  done
} | tee "$results/recovery.md"
log "results in $results"
