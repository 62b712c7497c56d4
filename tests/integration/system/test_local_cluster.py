"""`dtq cluster` runs a local cluster in the foreground: it prints REDIS_URL once every slot is
served, the cluster answers, and SIGTERM stops every node."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from tests.conftest import ROOT, SERVER_BINARY


def test_dtq_cluster_prints_a_url_serves_every_slot_and_stops(tmp_path: Path) -> None:
    env = dict(os.environ)
    if SERVER_BINARY:  # the tests' server choice: put it first on PATH as redis-server
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "redis-server").symlink_to(SERVER_BINARY)
        env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dtq.cli", "cluster", "--dir", str(tmp_path / "cluster")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("REDIS_URL=redis://127.0.0.1:"), line
        client = redis.Redis.from_url(line.removeprefix("REDIS_URL="), decode_responses=True)
        info = client.execute_command("CLUSTER", "INFO")
        assert "cluster_state:ok" in info and "cluster_known_nodes:6" in info, info
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
    assert returncode == 0
    assert not list((tmp_path / "cluster").glob("node-*/url"))  # every node stopped
