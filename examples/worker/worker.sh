#!/usr/bin/env bash
# The job worker of job_worker.cpp as a shell script: the same jobs from the same Redis list, the
# same notifications through `switchboard publish` (the "rewritten in anything" point). Needs
# redis-cli and jq.
#
#   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 JOBS_LIST=tenant-jobs HUB=notifications PREFIX=Diquis \
#     examples/worker/worker.sh
#
# A job: {"id": "j1", "user": "alice", "tenant": "acme", "error": "..." (optional: it fails)}.
# MAX_JOBS=N stops after N jobs (tests); otherwise it runs until interrupted.
set -euo pipefail

bin=${SWITCHBOARD_BIN:-$(dirname "$0")/../../build/switchboard}
host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
list=${JOBS_LIST:-tenant-jobs}
hub=${HUB:-notifications}
prefix=${PREFIX:-}
max_jobs=${MAX_JOBS:-}

done_jobs=0
while [[ -z $max_jobs || $done_jobs -lt $max_jobs ]]; do
  # BLPOP with a 1 s timeout prints the list name and the job on two lines, or nothing.
  job=$(redis-cli -h "$host" -p "$port" --raw BLPOP "$list" 1 | sed -n 2p)
  [[ -n $job ]] || continue
  if ! jq -e '.user and .tenant' >/dev/null 2>&1 <<<"$job"; then
    echo "worker.sh: skipped a malformed job: $job" >&2
    continue
  fi
  # The job's notifications, one JSON object per line, published together and confirmed by
  # Redis before the job counts as done (switchboard publish exits 0 only then).
  jq -c '
    .user as $user
    | {jobId: .id, tenantName: .tenant} as $base
    | (if .error then {target: "TenantCreationFailed", arguments: [$base + {error: .error}]}
       else {target: "TenantCreated", arguments: [$base]} end) as $final
    | ([25, 50, 75][] | {target: "TenantProgress", arguments: [$base + {percent: .}], user: $user}),
      ($final + {user: $user}),
      ($final + {group: ("tenant-" + .tenant)})
  ' <<<"$job" |
    "$bin" publish --backplane "redis://$host:$port" --hub "$hub" --prefix "$prefix"
  echo "worker.sh: job $(jq -r .id <<<"$job") done for $(jq -r .user <<<"$job")"
  done_jobs=$((done_jobs + 1))
done
