"""`dtq cluster` runs a local cluster in the foreground: it prints REDIS_URL once every slot is
served, the cluster answers, and SIGTERM stops every node."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from dtq.errors import PortTakenError
from dtq.local_cluster import LocalCluster
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


def test_a_taken_bus_port_gives_the_node_other_ports(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "cluster", masters=1, replicas=0, binary=SERVER_BINARY)
    node = cluster.nodes[0]
    bus = int(node.options[node.options.index("--cluster-port") + 1])
    with socket.socket() as taker:
        taker.bind(("127.0.0.1", bus))
        taker.listen()
        with cluster:
            assert cluster.nodes[0] is not node and cluster.nodes[0].running


def test_a_node_that_cannot_start_stops_the_ones_started(tmp_path: Path) -> None:
    """Starting fails whole: no server is left running (it would hold the port and data)."""
    cluster = LocalCluster(tmp_path / "cluster", masters=2, replicas=0, binary=SERVER_BINARY)
    first, second = cluster.nodes
    with socket.socket() as taker:
        taker.bind(("127.0.0.1", second.port))
        taker.listen()
        cluster._node = lambda index: second  # type: ignore[method-assign]  # always taken
        with pytest.raises(PortTakenError):
            cluster.start()
    assert not first.running and not second.running
    assert not list((tmp_path / "cluster").glob("node-*/url"))
