#!/usr/bin/env bash
# Render's start command (render.yaml). No argument: the API, on Render's PORT, with uvicorn
# believing Render's proxy's X-Forwarded-* (only the proxy reaches the service) and
# WEB_CONCURRENCY processes. `worker ...`: a worker with those arguments. REDIS_URL must be set.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONPATH="$PWD/app${PYTHONPATH:+:$PYTHONPATH}"
if [ "${1:-}" = "worker" ]; then
  shift
  exec python -m dtq.worker "$@"
fi
export HOST=0.0.0.0
export PORT="${PORT:-10000}"
export FORWARDED_ALLOW_IPS="${FORWARDED_ALLOW_IPS:-*}"
export API_WORKERS="${API_WORKERS:-${WEB_CONCURRENCY:-2}}"
exec python -m dtq.api
