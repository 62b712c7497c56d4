#!/usr/bin/env bash
# Static checks: formatting, lint, types (strict on app/, relaxed on tests and scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format --check app tests scripts deploy
.venv/bin/ruff check app tests scripts deploy
.venv/bin/mypy app/dtq tests scripts deploy
