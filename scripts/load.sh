#!/usr/bin/env bash
# Load scenarios with Locust against a local stack this starts itself (nginx, APIs, workers,
# Redis; loopback only): scripts/load.sh steady|burst|replay|tenants|dashboard|mixed|submit.
# Options and the exit status: scripts/load/run.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/venv.sh >/dev/null
exec .venv/bin/python scripts/load/run.py "$@"
