#!/usr/bin/env bash
# Runs the Nchan peer in the foreground: renders nginx.conf.template into a temp dir and runs
# nginx from there (-p DIR, daemon off, pid and logs in DIR), never the system nginx service.
#   bench/peers/nchan/run.sh [--port N] [--redis URL] [--workers N]
# Prints "listening on http://127.0.0.1:PORT" once it answers; SIGTERM/SIGINT stop it and
# remove the temp dir. Subscribe with ws://HOST:PORT/sub/<channel> (WebSocket) or
# http://HOST:PORT/sse/<channel> (EventSource), publish with
# POST http://HOST:PORT/pub/<channel>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$here/../lib.sh"

port=0
redis=""
# One worker per core, as nginx is deployed: never tune a peer down.
workers=auto
host=127.0.0.1
while (($# > 0)); do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --redis) redis=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

module=/usr/lib/nginx/modules/ngx_nchan_module.so
if [[ ! -f "$module" ]]; then
  echo "nchan: $module is missing: run bench/peers/install.sh (Debian libnginx-mod-nchan)" >&2
  exit 1
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x "$nginx" ]]; then
  echo "nchan: nginx is missing: run bench/peers/install.sh" >&2
  exit 1
fi

dir=$(mktemp -d -t switchboard-nchan.XXXXXX)
# Workers drop to `nobody` when started by root: they must reach the temp dir.
chmod 755 "$dir"
pid=""
cleanup() {
  # timeout(1) signals the whole process group as well: a second SIGTERM must not cut this short.
  trap '' TERM INT
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    # Fast shutdown (TERM): a graceful one (QUIT) waits for WebSocket subscribers to leave.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

nofile=$(ulimit -n)
connections=$((nofile > 1024 ? nofile - 64 : 1024))

render() {  # port
  local keep_redis='s/^.*#redis$//'
  if [[ -n "$redis" ]]; then keep_redis='s/[[:space:]]*#redis$//'; fi
  sed -e "$keep_redis" -e "s|@MODULE@|$module|" -e "s|@WORKERS@|$workers|" -e "s|@DIR@|$dir|g" \
      -e "s|@NOFILE@|$nofile|" -e "s|@CONNECTIONS@|$connections|" -e "s|@REDIS_URL@|$redis|" \
      -e "s|@HOST@|$host|" -e "s|@PORT@|$1|" "$here/nginx.conf.template" >"$dir/nginx.conf"
}

answers() {  # port: true once /healthz answers
  local reply
  { exec 3<>"/dev/tcp/$host/$1"; } 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  reply=$(head -c 12 <&3 || true)
  exec 3<&- 3>&-
  [[ "$reply" == "HTTP/1.1 200" ]]
}

start() {  # port
  render "$1"
  "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  pid=$!
}
banner() {  # port
  echo "nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || true)" \
       "workers=$workers${redis:+ redis=$redis}"
  echo "listening on http://$host:$1"
}
serve_when_ready nchan "$port" "$host" "$dir/error.log" start answers banner
