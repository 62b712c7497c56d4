#!/usr/bin/env bash
# Every check and test: ruff, mypy and pytest (unit tests, and integration tests against a real
# Redis/Valkey server that the test session starts on a free port). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt

./scripts/check.sh
.venv/bin/python -m pytest "$@"
