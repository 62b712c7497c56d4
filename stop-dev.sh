#!/usr/bin/env bash
# Stop a stack started with ./run-dev.sh --detach (or left behind by one).
#
#   ./stop-dev.sh          stop it
#   ./stop-dev.sh --wipe   stop it and delete the development data (.dtq/redis)
#
# Only processes this repo's run-dev.sh started are stopped: each line of .dtq/run/pids names a
# pid and the module it ran, and a pid whose command line no longer runs that module (it ended,
# and the number went to another process) is left alone.
set -euo pipefail
cd "$(dirname "$0")"
wipe=0
case "${1:-}" in
  --wipe) wipe=1 ;;
  "") ;;
  *) echo "usage: $0 [--wipe]" >&2; exit 2 ;;
esac
dev_dir="${EMBEDDED_REDIS_DIR:-.dtq}"
pids_file="$dev_dir/run/pids"
ours() { ps -o args= -p "$1" 2>/dev/null | grep -qF -- "$2"; }
if [ -f "$pids_file" ]; then
  # The dashboard, workers and the API first, the embedded Redis (started first) last.
  tac "$pids_file" | while read -r pid module; do
    if ! ours "$pid" "$module"; then
      echo "pid $pid no longer runs $module: left alone"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$pids_file"
  echo "stopped"
else
  echo "no stack is running (no $pids_file)"
fi
if [ $wipe -eq 1 ]; then
  rm -rf "$dev_dir/redis"
  echo "deleted the development data ($dev_dir/redis)"
fi
