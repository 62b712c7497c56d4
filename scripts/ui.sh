#!/usr/bin/env bash
# The dashboard's checks and build: npm ci (when ui/package-lock.json changed), the OpenAPI schema
# and the TypeScript types generated from it must match the API (drift fails), tsc (strict),
# vitest, and `vite build` into ui/dist (which the end-to-end tests serve through nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is not installed: the dashboard needs Node.js 20 and npm" >&2
  exit 1
fi
./scripts/ui-deps.sh
.venv/bin/python scripts/openapi.py --check
(
  cd ui
  npx openapi-typescript openapi.json -o node_modules/.schema-check.ts >/dev/null 2>&1
  if ! cmp -s node_modules/.schema-check.ts src/api/schema.ts; then
    echo "ui/src/api/schema.ts is stale: run (cd ui && npm run gen:types) and commit it" >&2
    exit 1
  fi
  npx tsc -b
  npx vitest run
  npx vite build --logLevel warn
)
