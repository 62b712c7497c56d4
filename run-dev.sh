#!/usr/bin/env bash
# Run the whole DTQ stack for development: an embedded Redis/Valkey (unless REDIS_URL is set),
# the HTTP control plane and one worker. Ctrl-C stops all of it.
#
#   ./run-dev.sh            run in the foreground, following the logs
#   ./run-dev.sh --detach   run in the background; ./stop-dev.sh stops it
#
# Settings come from the environment (see .env.example), e.g. PORT=9000 ./run-dev.sh
set -euo pipefail
cd "$(dirname "$0")"

detach=0
case "${1:-}" in
  -d|--detach) detach=1 ;;
  "") ;;
  *) echo "usage: $0 [--detach]" >&2; exit 2 ;;
esac

run_dir=.dtq/run
mkdir -p "$run_dir"
if [ -f "$run_dir/pids" ]; then
  echo "a stack seems to be running already (see $run_dir/pids); run ./stop-dev.sh first" >&2
  exit 1
fi

# Python environment: created once, refreshed when the requirements change.
./scripts/venv.sh
py=.venv/bin/python

export ENVIRONMENT="${ENVIRONMENT:-development}"
# One `default` tenant without API keys, for development (the API refuses this in production).
# AUTH_DISABLED=false ./run-dev.sh runs with keys: .venv/bin/dtq admin create-tenant/create-key.
export AUTH_DISABLED="${AUTH_DISABLED:-true}"
export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8000}"
export PYTHONUNBUFFERED=1

pids=()
stop_all() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$run_dir/pids"
}
start() {  # start NAME CMD...: run in the background (own session when detached), log to a file
  local name=$1; shift
  if [ $detach -eq 1 ]; then
    setsid "$@" >"$run_dir/$name.log" 2>&1 < /dev/null &
  else
    "$@" >"$run_dir/$name.log" 2>&1 &
  fi
  pids+=($!)
  echo $! >>"$run_dir/pids"
}
trap stop_all EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  start redis "$py" -m dtq.embedded_redis --dir .dtq/redis
  for _ in $(seq 100); do
    grep -q '^REDIS_URL=' "$run_dir/redis.log" 2>/dev/null && break
    sleep 0.1
  done
  REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$run_dir/redis.log")
  if [ -z "$REDIS_URL" ]; then
    echo "the embedded Redis did not start:" >&2; cat "$run_dir/redis.log" >&2; exit 1
  fi
  export REDIS_URL
  echo "embedded Redis at $REDIS_URL (data in .dtq/redis)"
fi

start api "$py" -m dtq.api
start worker "$py" -m dtq.worker --tasks dtq.demo_tasks  # and WORKER_TASK_MODULES, if set
# Later issues add here: nginx in front of the API and the dashboard (ui/), see docker/.

api="http://$HOST:$PORT"
if ! "$py" - "$api" <<'PY'
import sys, time, httpx
for _ in range(150):
    try:
        if httpx.get(sys.argv[1] + "/health/ready", timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
then
  echo "the API did not become ready; its log:" >&2
  cat "$run_dir/api.log" >&2
  exit 1
fi

cat <<MSG

DTQ is running
  API        $api
  API docs   $api/docs
  stats      $api/stats
  logs       $run_dir/{api,worker,redis}.log
  try        curl -s -X POST $api/jobs -H 'content-type: application/json' -d '{"task_type":"echo","payload":{"hi":1}}'
MSG

if [ $detach -eq 1 ]; then
  trap - EXIT INT TERM
  echo "  stop       ./stop-dev.sh"
  exit 0
fi
echo "  stop       Ctrl-C"
echo
tail -n +1 -q -f "$run_dir/api.log" "$run_dir/worker.log" &
tail_pid=$!
wait -n "${pids[@]}" || true
kill "$tail_pid" 2>/dev/null || true
