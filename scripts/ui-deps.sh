#!/usr/bin/env bash
# Install the dashboard's packages from ui/package-lock.json with `npm ci`, only when the lockfile
# changed since the last install (its hash is kept in ui/node_modules/.dtq-lock). Output goes to
# the file given as the first argument, else to this script's own output.
set -euo pipefail
cd "$(dirname "$0")/.."
lock_hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [ -f ui/node_modules/.dtq-lock ] && [ "$(cat ui/node_modules/.dtq-lock)" = "$lock_hash" ]; then
  exit 0
fi
echo "installing the dashboard's dependencies (npm ci, once per lockfile change)..."
if [ -n "${1:-}" ]; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error) >"$1" 2>&1 || {
    echo "npm ci failed; its log:" >&2; cat "$1" >&2; exit 1; }
else
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "$lock_hash" >ui/node_modules/.dtq-lock
