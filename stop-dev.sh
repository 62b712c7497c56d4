#!/usr/bin/env bash
# Stop a stack started with ./run-dev.sh --detach.
set -euo pipefail
cd "$(dirname "$0")"
pids_file=.dtq/run/pids
if [ ! -f "$pids_file" ]; then
  echo "no stack is running (no $pids_file)"
  exit 0
fi
# Workers and the API first, the embedded Redis (started first) last.
tac "$pids_file" | while read -r pid; do
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
rm -f "$pids_file"
echo "stopped"
