"""deploy/ec2/dtq-release on a stand-in instance: releases side by side under DTQ_ROOT, the
`current` and `previous` links, the readiness wait, the switch back when a release is not
ready, and `rollback`. systemd is played by a small `systemctl` on PATH that starts and stops
the real API and worker processes from /srv/dtq/current as the units would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dtq.embedded_redis import free_port
from tests.conftest import ROOT

RELEASE = ROOT / "deploy" / "ec2" / "dtq-release"


@pytest.fixture
def instance(tmp_path: Path, redis_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path / "srv"
    (root / "releases").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    port = free_port()
    units = textwrap.dedent(f"""\
        #!/usr/bin/env bash
        # systemctl for the test: dtq-api.service and dtq-workers.target as background processes
        set -euo pipefail
        action=$1 unit=$2 run={tmp_path}/run
        mkdir -p "$run"
        stop() {{
          [ -f "$run/$1.pid" ] && kill -TERM "$(cat "$run/$1.pid")" 2>/dev/null &&
            while kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; do sleep 0.05; done
          rm -f "$run/$1.pid"
        }}
        start() {{
          cd {root}/current
          PYTHONPATH={root}/current/app REDIS_URL={redis_url} KEY_PREFIX=rel{port} \\
            AUTH_DISABLED=true HOST=127.0.0.1 PORT={port} SHUTDOWN_GRACE_S=2 \\
            nohup {root}/current/venv/bin/python -m "$2" >>"$run/$1.log" 2>&1 &
          echo $! >"$run/$1.pid"
        }}
        case "$action $unit" in
          "stop dtq-workers.target") stop worker || true ;;
          "start dtq-workers.target") start worker dtq.worker ;;
          "restart dtq-api.service") stop api || true; start api dtq.api ;;
          *) echo "unexpected: $*" >&2; exit 1 ;;
        esac
        """)  # fmt: skip
    (bin_dir / "systemctl").write_text(units)
    (bin_dir / "systemctl").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DTQ_ROOT": str(root),
           "DTQ_READY_URL": f"http://127.0.0.1:{port}/health/ready",
           "DTQ_READY_TIMEOUT_S": "6"}  # fmt: skip
    yield root, env
    subprocess.run(["systemctl", "stop", "dtq-workers.target"], env=env, check=False)
    for pid in (tmp_path / "run").glob("*.pid"):
        subprocess.run(["kill", pid.read_text().strip()], check=False)


def _release(root: Path, name: str, broken: bool = False) -> None:
    """An unpacked release as `fetch` leaves it: the code and a venv (this one's)."""
    target = root / "releases" / name
    shutil.copytree(ROOT / "app", target / "app", ignore=shutil.ignore_patterns("__pycache__"))
    (target / "venv").symlink_to(Path(sys.executable).parent.parent)
    (target / "NAME").write_text(name)
    if broken:  # a release whose API cannot start
        (target / "app" / "dtq" / "api" / "main.py").write_text("raise ImportError('broken')\n")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(RELEASE), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def _link(root: Path, name: str) -> str:
    return Path(os.readlink(root / name)).name


def test_activate_switch_back_and_rollback(instance: tuple[Path, dict[str, str]]) -> None:
    root, env = instance
    for name, broken in (("r1", False), ("r2", False), ("r-bad", True)):
        _release(root, name, broken)
    assert _run(env, "activate", "r1", "unused").returncode == 0
    assert _link(root, "current") == "r1"
    done = _run(env, "activate", "r2", "unused")
    assert done.returncode == 0 and "r2 is live" in done.stderr
    assert (_link(root, "current"), _link(root, "previous")) == ("r2", "r1")
    assert httpx.get(env["DTQ_READY_URL"]).status_code == 200

    bad = _run(env, "activate", "r-bad", "unused")
    assert bad.returncode == 1 and "r-bad failed readiness" in bad.stderr
    # switched back by itself: r2 serves, and `previous` still names r1
    assert (_link(root, "current"), _link(root, "previous")) == ("r2", "r1")
    assert httpx.get(env["DTQ_READY_URL"]).status_code == 200

    back = _run(env, "rollback")
    assert back.returncode == 0 and "rolled back to r1" in back.stderr
    assert (_link(root, "current"), _link(root, "previous")) == ("r1", "r2")
    assert httpx.get(env["DTQ_READY_URL"]).status_code == 200
    assert "refuses" not in _run(env, "status").stdout
    assert _run(env, "activate", "../etc", "x").returncode == 2  # names are checked
