#!/usr/bin/env bash
# Create .venv once and keep it in step with requirements-dev.txt (which includes
# requirements.txt) and pyproject.toml; DTQ itself is installed editable (import name `dtq`,
# console script `dtq`). Used by run-dev.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.dtq-installed
wanted=$(cat requirements.txt requirements-dev.txt scripts/load/requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "installing requirements-dev.txt and DTQ (editable)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$wanted" >"$stamp"
fi
