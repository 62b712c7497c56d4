#!/usr/bin/env bash
# Fix what can be fixed automatically: formatting and lint.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format app tests scripts
.venv/bin/ruff check --fix app tests scripts
