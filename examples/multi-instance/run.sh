#!/usr/bin/env bash
# Three Switchboard instances sharing one Redis backplane, each serving the demo page.
#
#   examples/multi-instance/run.sh            redis-server on 6380, instances on 5000, 5001, 5002
#   NGINX_PORT=8080 examples/multi-instance/run.sh    ... and nginx on 8080 in front (nginx.conf)
#
# Environment (all optional):
#   BASE_PORT        first instance port; the others follow (default 5000)
#   INSTANCES        how many instances (default 3; nginx.conf is written for 3)
#   HOST             address the instances listen on (default 127.0.0.1)
#   REDIS_PORT       port of the redis-server started here (default 6380, not to collide with a system Redis)
#   REDIS_URL        use this Redis instead of starting one (e.g. redis://10.0.0.5:6379 or
#                    "host:6379,password=...,channelPrefix=app1")
#   SWITCHBOARD_BIN  server binary (default build/switchboard of this repository)
#   STATIC_DIR       the demo app (default web/dist of this repository: make build builds it)
#   NGINX_PORT       also start nginx on this port with nginx.conf (ports rewritten to the ones above)
#   NGINX_BIN        nginx binary (default nginx)
#   REDIS_SERVER     redis-server binary (default redis-server)
#   Extra arguments are passed to every `switchboard serve`, e.g. run.sh --log-level debug
#
# Ctrl-C (or SIGTERM) stops everything: the instances drain (clients are told to reconnect), then Redis
# and nginx stop, and the temp dir is removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

BASE_PORT=${BASE_PORT:-5000}
INSTANCES=${INSTANCES:-3}
HOST=${HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6380}
SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-$root/build/switchboard}
STATIC_DIR=${STATIC_DIR:-$root/web/dist}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
NGINX_BIN=${NGINX_BIN:-nginx}
NGINX_PORT=${NGINX_PORT:-}
REDIS_URL=${REDIS_URL:-}

if [[ ! -x "$SWITCHBOARD_BIN" ]]; then
  echo "run.sh: $SWITCHBOARD_BIN not found; build it first (make build) or set SWITCHBOARD_BIN" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-multi.XXXXXX")
# shellcheck source=examples/lib.sh
source "$here/../lib.sh"

# Plain bash (/dev/tcp), so redis-cli is not needed.
redis_pings() (  # port
  exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 1 reply <&3 || exit 1
  [[ $reply == "+PONG"* ]]
)

# 1. Redis
if [[ -z "$REDIS_URL" ]]; then
  if redis_pings "$REDIS_PORT"; then
    echo "run.sh: something already answers on Redis port $REDIS_PORT; set REDIS_PORT or REDIS_URL" >&2
    exit 1
  fi
  mkdir -p "$work/redis"
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" \
    --daemonize no --logfile '' > >(sed -u 's/^/[redis] /') 2>&1 &
  pids+=($!)
  if ! wait_until 10 redis_pings "$REDIS_PORT"; then
    echo "run.sh: redis-server did not answer PING on port $REDIS_PORT" >&2
    exit 1
  fi
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  log "redis-server on 127.0.0.1:$REDIS_PORT"
fi

# 2. The instances
start_instances "$REDIS_URL" "$@"

# 3. nginx in front (optional)
if [[ -n "$NGINX_PORT" ]]; then
  mkdir -p "$work/nginx"
  # nginx.conf names 127.0.0.1:5000-5002 and port 8080; rewrite them to this run's ports.
  # With fewer than 3 instances the others' upstreams and lines go: nginx refuses duplicate map
  # keys and an upstream without a primary server.
  sed_args=()
  for i in 0 1 2; do
    if ((i < INSTANCES)); then
      sed_args+=(-e "s/127\.0\.0\.1:500$i\b/@INSTANCE$i@/g")
    else
      sed_args+=(-e "/upstream switchboard_$i {/,/}/d" -e "/127\.0\.0\.1:500$i\b/d")
    fi
  done
  for ((i = 0; i < INSTANCES && i < 3; i++)); do
    sed_args+=(-e "s/@INSTANCE$i@/$HOST:${ports[$i]}/g")
  done
  sed_args+=(-e "s/listen 8080;/listen 127.0.0.1:$NGINX_PORT;/")
  sed "${sed_args[@]}" "$here/nginx.conf" > "$work/nginx/nginx.conf"
  "$NGINX_BIN" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' > >(sed -u 's/^/[nginx] /') 2>&1 &
  pids+=($!)
  if ! wait_until 10 ready "$HOST" "$NGINX_PORT"; then
    echo "run.sh: nginx did not come up on port $NGINX_PORT" >&2
    exit 1
  fi
  HOST_FOR_NGINX=127.0.0.1
fi

log "ready"
for i in "${!ports[@]}"; do
  log "instance-$i: http://$HOST:${ports[$i]}/   (hub /hubs/chat, /readyz)"
done
if [[ -n "$NGINX_PORT" ]]; then
  log "nginx:      http://$HOST_FOR_NGINX:$NGINX_PORT/   (load-balances the instances)"
fi
log "open two instances in two tabs, chat across them; Ctrl-C stops everything"

wait_for_exit
