"""The entry points refuse bad configuration with a clear message and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _run(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("module", ["dtq.worker", "dtq.api"])
def test_missing_redis_url(module: str, tmp_path) -> None:
    result = _run(module, EMBEDDED_REDIS_DIR=str(tmp_path))  # no development server there
    assert result.returncode == 2 and "REDIS_URL is not set" in result.stderr


@pytest.mark.parametrize("module", ["dtq.worker", "dtq.api"])
def test_invalid_setting_is_named(module: str, redis_url: str) -> None:
    result = _run(module, REDIS_URL=redis_url, MAX_RETRIES="lots")
    assert result.returncode == 2 and "MAX_RETRIES" in result.stderr


def test_unknown_task_module(redis_url: str) -> None:
    result = _run("dtq.worker", "--tasks", "no.such.module", REDIS_URL=redis_url)
    assert result.returncode == 2 and "cannot load tasks" in result.stderr


def test_concurrency_out_of_range(redis_url: str) -> None:
    result = _run("dtq.worker", "--concurrency", "0", REDIS_URL=redis_url)
    assert result.returncode == 2 and "--concurrency" in result.stderr


def test_demo_tasks_are_refused_in_production_unless_allowed(redis_url: str) -> None:
    result = _run(
        "dtq.worker", "--tasks", "dtq.demo_tasks", REDIS_URL=redis_url, ENVIRONMENT="production"
    )
    assert result.returncode == 2 and "ALLOW_DEMO_TASKS=true" in result.stderr
