#!/usr/bin/env bash
# Switchboard's event streams (GET /events/<channel>, docs/events.md) next to Nchan's EventSource
# subscribers (GET /sse/<channel>): one instance of each on the same cores, the same subscribers,
# channels and publish rates, driven by `switchboard bench sse` and `sse-idle`. Prints the
# measured table and the Switchboard/Nchan ratios, and keeps the JSON reports.
#   bench/sse.sh
# Environment:
#   SSE_SUBSCRIBERS=2000       subscribers of the rate runs
#   SSE_CHANNELS=1             channels (subscriber i on channel i mod N, one publisher each)
#   SSE_RATES="5 25 50 100"    events per second per channel, one run each (with 2,000
#                              subscribers on one channel: 10k to 200k deliveries/s)
#   SSE_DURATION=5s            each run's window    SSE_SIZE=256 (bytes of each event's payload)
#   SSE_IDLE=5000              idle subscribers for the memory per subscriber; 0 skips it
#   SSE_THREADS=1              generator threads    SSE_SYSTEMS="switchboard nchan"
#   SERVER_THREADS=0           Switchboard shards (0: one per core, as nginx's worker per core;
#                              with SSE_INSTANCES=2 the default is 1, a core per instance)
#   SSE_INSTANCES=1            2: two instances of each system on one fresh Redis, subscribers
#                              and (Switchboard's) publishers alternating between them, so with an
#                              odd SSE_CHANNELS half of each channel's subscribers are on the other
#                              instance (the cross-instance column); SSE_IDLE defaults to 0
#   RESULTS_DIR (default: a new temp dir, kept)
#   SSE_REPORT_ONLY=1          no runs: the report of the results already in RESULTS_DIR
# Loopback only; every server stops by itself after SSE_MAX_SECONDS (default 600) and every
# generator run after 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."

subscribers=${SSE_SUBSCRIBERS:-2000}
channels=${SSE_CHANNELS:-1}
rates=${SSE_RATES:-5 25 50 100}
duration=${SSE_DURATION:-5s}
size=${SSE_SIZE:-256}
instances=${SSE_INSTANCES:-1}
if ((instances > 1)); then
  idle=${SSE_IDLE:-0}
  server_threads=${SERVER_THREADS:-1}
else
  idle=${SSE_IDLE:-5000}
  server_threads=${SERVER_THREADS:-0}
fi
threads=${SSE_THREADS:-1}
systems=${SSE_SYSTEMS:-switchboard nchan}
max_seconds=${SSE_MAX_SECONDS:-600}
results=${RESULTS_DIR:-$(mktemp -d /tmp/switchboard-sse.XXXXXX)}
mkdir -p "$results"
bin=build/switchboard
log_prefix=sse

source bench/compare-lib.sh
if [[ ${SSE_REPORT_ONLY:-0} != 1 ]]; then
  compare_setup

  # start_one SYSTEM: one instance, no backplane; sets `url`, `pid` and `instance_args`.
  # Anyone may publish: the bench is the only client (a --events-publish-key would need
  # --publish-key on the generator, and costs one comparison per publish).
  start_one() {
    if [[ $1 == switchboard ]]; then
      url=$(start_switchboard switchboard "" --events-open)
    else
      url=$(start_peer "$1" "$1")
    fi
    pid=$(cat "$state/$1.pid")
    instance_args=(--url "$url" --server-pid "$pid")
    log "$1 on $url (pid $pid)"
  }
  # start_rate_servers SYSTEM / stop_rate_servers SYSTEM: what the rate runs go against.
  start_rate_servers() {
    if ((instances > 1)); then
      redis=$(start_peer redis redis)
      start_system "$1" "$redis" --events-open
    else
      start_one "$1"
    fi
  }
  stop_rate_servers() {
    if ((instances > 1)); then
      stop_system "$1"
      bench/peers/stop.sh "$state/redis.pid"
    else
      bench/peers/stop.sh "$state/$1.pid"
    fi
  }

  uptime >"$results/load-before.txt"
  for system in $systems; do
    # Idle first, on a fresh server: its RSS growth is then not hidden by memory an earlier run
    # freed into the allocator.
    if ((idle > 0)); then
      start_one "$system"
      log "$system: $idle idle subscribers"
      timeout --kill-after=10 120 "$bin" bench sse-idle --target "$system" --url "$url" \
        --server-pid "$pid" --connections "$idle" --duration 2s \
        --source-addresses 127.0.0.1-127.0.0.8 --output-json "$results/$system-idle.json" >&2 ||
        log "$system idle failed (exit $?)"
      bench/peers/stop.sh "$state/$system.pid"
    fi
    start_rate_servers "$system"
    for rate in $rates; do
      log "$system: $subscribers subscribers on $channels channel(s), $rate events/s each, $duration"
      timeout --kill-after=10 120 "$bin" bench sse --target "$system" "${instance_args[@]}" \
        --connections "$subscribers" --channels "$channels" --rate "$rate" \
        --message-size "$size" --duration "$duration" --threads "$threads" \
        --source-addresses 127.0.0.1-127.0.0.4 --output-json "$results/$system-sse-$rate.json" \
        >&2 || log "$system at rate $rate failed (exit $?)"
    done
    stop_rate_servers "$system"
  done
  uptime >"$results/load-after.txt"
  write_env "$results" "subscribers=$subscribers" "channels=$channels" "rates=$rates" \
    "duration=$duration" "size=$size" "idle=$idle" "threads=$threads" \
    "server_threads=$server_threads" "systems=$systems" "instances=$instances"
fi

# --- Report: markdown on stdout and in RESULTS_DIR/sse.md ----------------------------------------
# field FILE JQ: a figure of a report, "-" when the run left none.
field() { if [[ -s $1 ]]; then jq -r "$2" "$1"; else echo "-"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
{
  echo "Subscribers: $subscribers on $channels channel(s), $size-byte payloads, $duration windows," \
    "$(grep -oE '^instances=[0-9]+' "$results/env.txt" | cut -d= -f2 || echo 1) instance(s) per system;"
  grep -E '^(date|cpu|nproc|load_before|load_after|nchan)=' "$results/env.txt" | paste -sd' '
  echo
  # deliveries/s counts late ones too (everything arrives, the drain included); on-time/s only
  # those within the 1 s deadline: past saturation the two part.
  echo "| events/s per channel | offered deliveries/s | system | deliveries/s | on-time/s | p50 ms | p99 ms | p99.9 ms | cross-instance p50 / p99 ms | lost | server CPU s per 1M | generator cores |"
  echo "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for rate in $rates; do
    offered=$((rate * subscribers))
    for system in $systems; do
      f=$results/$system-sse-$rate.json
      echo "| $rate | $offered | $system | $(field "$f" '.deliveries_per_second | floor') |" \
        "$(field "$f" '.on_time_deliveries_per_second | floor') |" \
        "$(field "$f" '.latency_us.p50 / 1000 * 100 | round / 100') |" \
        "$(field "$f" '.latency_us.p99 / 1000 * 100 | round / 100') |" \
        "$(field "$f" '.latency_us.p999 / 1000 * 100 | round / 100') |" \
        "$(field "$f" 'if (.cross_instance.received // 0) > 0 then "\(.cross_instance.latency_us.p50 / 10 | round / 100) / \(.cross_instance.latency_us.p99 / 10 | round / 100)" else "-" end') |" \
        "$(field "$f" '.lost') |" \
        "$(field "$f" '.server.cpu_seconds_per_million_deliveries * 100 | round / 100') |" \
        "$(field "$f" '.generator.cpu_cores * 100 | round / 100') |"
    done
  done
  if [[ " $systems " == *" switchboard "* && " $systems " == *" nchan "* ]]; then
    echo
    echo "| events/s per channel | on-time deliveries/s Switchboard / Nchan | p99 Nchan / Switchboard | CPU per delivery Nchan / Switchboard |"
    echo "| ---: | ---: | ---: | ---: |"
    for rate in $rates; do
      s=$results/switchboard-sse-$rate.json n=$results/nchan-sse-$rate.json
      echo "| $rate | $(ratio "$(field "$s" .on_time_deliveries_per_second)" "$(field "$n" .on_time_deliveries_per_second)") |" \
        "$(ratio "$(field "$n" .latency_us.p99)" "$(field "$s" .latency_us.p99)") |" \
        "$(ratio "$(field "$n" .server.cpu_seconds_per_million_deliveries)" "$(field "$s" .server.cpu_seconds_per_million_deliveries)") |"
    done
  fi
  if ((idle > 0)); then
    echo
    echo "| system | idle subscribers | connected | server RSS before MB | with them MB | per subscriber KiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for system in $systems; do
      f=$results/$system-idle.json
      echo "| $system | $idle | $(field "$f" .connected) |" \
        "$(field "$f" '.server.rss_before_bytes / 1e6 * 10 | round / 10') |" \
        "$(field "$f" '.server.rss_connected_bytes / 1e6 * 10 | round / 10') |" \
        "$(field "$f" '.server.rss_per_connection_bytes / 1024 * 100 | round / 100') |"
    done
  fi
} | tee "$results/sse.md"
log "results in $results"
