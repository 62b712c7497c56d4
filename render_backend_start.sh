#!/usr/bin/env bash
# Render's start command for the API service: Render provides PORT; REDIS_URL must be set.
set -euo pipefail
cd "$(dirname "$0")"
export HOST=0.0.0.0
export PYTHONPATH="$PWD/app${PYTHONPATH:+:$PYTHONPATH}"  
