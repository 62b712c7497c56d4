"""run-dev.sh and stop-dev.sh as a developer meets them: a port in use is refused, `dtq admin`
finds the running server by itself, Ctrl-C lets in-flight jobs finish before Redis stops, the
data folder keeps its port, stop-dev.sh stops only what it started, --wipe deletes the data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import redis

from dtq.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import ROOT, wait_http_ready


def _env(dev_dir: Path, port: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return env | {"EMBEDDED_REDIS_DIR": str(dev_dir), "PORT": str(port), "LOG_LEVEL": "INFO"}


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            ["./run-dev.sh", "--detach"],
            cwd=ROOT,
            env=_env(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert "DTQ is running" not in done.stdout


def _serves(url: str, timeout: float) -> str:
    """The body of `url` once it answers 200 (AssertionError after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return r.text
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_the_stack_stops_in_order_and_its_tools_find_the_server(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    env = _env(tmp_path, port) | {"UI_PORT": str(ui_port)}
    api = f"http://127.0.0.1:{port}"
    stack = subprocess.Popen(
        ["./run-dev.sh"], cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    try:
        wait_http_ready(api)
        url = (tmp_path / "redis/url").read_text().strip()
        admin = subprocess.run(
            [str(ROOT / ".venv/bin/dtq"), "admin", "queues"],
            cwd=tmp_path,
            env=env | {"EMBEDDED_REDIS_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert admin.returncode == 0, admin.stderr
        assert admin.stdout.startswith("default  active")
        job = httpx.post(f"{api}/jobs", json={"task_type": "sleep", "payload": {"seconds": 1}})
        job_id = job.json()["id"]
        deadline = time.monotonic() + 10
        while httpx.get(f"{api}/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # the dashboard (Vite, with node and npm on the machine) proxies /api to this API
        dashboard = f"http://127.0.0.1:{ui_port}"
        assert "<title>DTQ</title>" in _serves(dashboard + "/", timeout=120)
        assert _serves(f"{dashboard}/api/jobs/{job_id}", timeout=10)
        os.kill(stack.pid, signal.SIGINT)  # Ctrl-C reaches the script, which stops the rest
        assert stack.wait(30) in (0, 130)
        with pytest.raises(httpx.ConnectError):  # the dashboard stopped with the rest
            httpx.get(dashboard + "/", timeout=2)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
    assert not (tmp_path / "redis/url").exists()
    # The same data folder, started again, has the same port: the job finished before Redis
    # stopped (nothing left for the visibility timeout).
    with EmbeddedRedis(tmp_path / "redis") as server:
        assert server.url == url
        r = redis.Redis.from_url(url, decode_responses=True)
        (key,) = r.keys(f"dtq:{{0}}:job:{job_id}")
        assert r.hget(key, "status") == "succeeded"
        r.close()


def test_stop_dev_leaves_processes_it_did_not_start_and_wipe_deletes_the_data(
    tmp_path: Path,
) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis/appendonlydir").mkdir()
    (tmp_path / "run/pids").write_text(f"{os.getpid()} dtq.api\n")  # a stale pid: now pytest
    done = subprocess.run(
        ["./stop-dev.sh", "--wipe"],
        cwd=ROOT,
        env=_env(tmp_path, 0),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert f"pid {os.getpid()} no longer runs dtq.api: left alone" in done.stdout
    assert not (tmp_path / "redis").exists() and not (tmp_path / "run/pids").exists()
