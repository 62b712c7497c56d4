#!/usr/bin/env bash
# Run the whole DTQ stack for development: an embedded Redis/Valkey (unless REDIS_URL is set),
# the HTTP control plane, one worker and, where node and npm are installed, the dashboard (the
# Vite dev server on UI_PORT, default 5173, proxying /api and /ws to the API). Ctrl-C stops all.
#
#   ./run-dev.sh            run in the foreground, following the logs; Ctrl-C stops it
#   ./run-dev.sh --detach   run in the background; ./stop-dev.sh stops it
#   ./stop-dev.sh --wipe    stops it and deletes the development data (.dtq/redis)
#   dtq admin queues        works beside it without REDIS_URL (the URL is in .dtq/redis/url)
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

# Development state: EMBEDDED_REDIS_DIR (default .dtq) holds redis/ (the data) and run/ (logs,
# pids); `dtq admin` and extra workers find the server's URL in redis/url.
dev_dir="${EMBEDDED_REDIS_DIR:-.dtq}"
export EMBEDDED_REDIS_DIR="$dev_dir"
run_dir="$dev_dir/run"
mkdir -p "$run_dir"
# `pid module` per line: a process counts as ours only while its command line names the module
# (a Python module, or the dashboard's vite.js).
ours() { ps -o args= -p "$1" 2>/dev/null | grep -qF -- "$2"; }
if [ -f "$run_dir/pids" ]; then
  while read -r pid module; do
    if ours "$pid" "$module"; then
      echo "a stack is running already ($module, pid $pid); run ./stop-dev.sh first" >&2
      exit 1
    fi
  done <"$run_dir/pids"
  rm -f "$run_dir/pids"  # left by a stack that did not stop cleanly: none of it runs now
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

# Refuse a port someone else serves, rather than report success against their server.
port_free() {  # port_free PORT VARIABLE
  "$py" - "$HOST" "$1" "$2" <<'PY'
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((sys.argv[1], int(sys.argv[2])))
    except OSError as exc:
        sys.exit(f"port {sys.argv[2]} on {sys.argv[1]} is in use ({exc.strerror}): stop what "
                 f"serves it, or choose another, e.g. {sys.argv[3]}={int(sys.argv[2]) + 1} "
                 "./run-dev.sh")
PY
}
port_free "$PORT" PORT || exit 1
ui_port="${UI_PORT:-5173}"
if command -v node >/dev/null 2>&1; then port_free "$ui_port" UI_PORT || exit 1; fi

pids=()
stop_all() {  # the worker and the API first (they finish in-flight work), Redis last
  trap - EXIT INT TERM
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -f "$run_dir/pids"
}
start() {  # start NAME MODULE ARGS...: in a session of its own (so Ctrl-C reaches this script
  # only, which stops the processes in order), logging to a file
  local name=$1 module=$2; shift 2
  setsid "$py" -m "$module" "$@" >"$run_dir/$name.log" 2>&1 < /dev/null &
  pids+=($!)
  echo "$! $module" >>"$run_dir/pids"
}
trap stop_all EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  start redis dtq.embedded_redis --dir "$dev_dir/redis"
  for _ in $(seq 100); do
    grep -q '^REDIS_URL=' "$run_dir/redis.log" 2>/dev/null && break
    sleep 0.1
  done
  REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$run_dir/redis.log")
  if [ -z "$REDIS_URL" ]; then
    echo "the embedded Redis did not start:" >&2; cat "$run_dir/redis.log" >&2; exit 1
  fi
  export REDIS_URL
  echo "embedded Redis at $REDIS_URL (data in $dev_dir/redis)"
fi

start api dtq.api
start worker dtq.worker --tasks dtq.demo_tasks  # and WORKER_TASK_MODULES, if set

# The dashboard: its dependencies come from ui/package-lock.json, installed on the first run and
# again whenever the lockfile changes.
dashboard=""
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  ./scripts/ui-deps.sh "$run_dir/npm.log"
  (cd ui && DTQ_API_URL="http://$HOST:$PORT" exec setsid node node_modules/vite/bin/vite.js \
    --host "$HOST" --port "$ui_port" --strictPort) >"$run_dir/ui.log" 2>&1 </dev/null &
  pids+=($!)
  echo "$! vite/bin/vite.js" >>"$run_dir/pids"
  dashboard="http://$HOST:$ui_port"
else
  echo "node and npm are not installed: running without the dashboard (ui/README.md)"
fi

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

try_it="curl -s -X POST $api/jobs -H 'content-type: application/json'"
if [ "$AUTH_DISABLED" != "true" ]; then  # keys on: the line needs one
  try_it="$try_it -H \"Authorization: Bearer \$DTQ_API_KEY\""
  keys_help="
  keys       .venv/bin/dtq admin create-tenant demo && export DTQ_API_KEY=\$(.venv/bin/dtq admin create-key demo | tail -1)"
fi
if [ -n "$dashboard" ]; then
  for _ in $(seq 100); do
    grep -q "Local:" "$run_dir/ui.log" 2>/dev/null && break
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "the dashboard did not start; its log:" >&2; cat "$run_dir/ui.log" >&2; exit 1
    fi
    sleep 0.1
  done
fi

cat <<MSG

DTQ is running${dashboard:+
  dashboard  $dashboard}
  API        $api
  API docs   $api/docs
  stats      $api/stats
  logs       $run_dir/{api,worker,redis${dashboard:+,ui}}.log
  data       $dev_dir/redis (./stop-dev.sh --wipe deletes it)${keys_help:-}
  try        $try_it -d '{"task_type":"echo","payload":{"hi":1}}'
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
