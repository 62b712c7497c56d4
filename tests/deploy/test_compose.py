"""docker/: the compose file and the Dockerfiles, without a container runtime (none can pull
images here). The compose file is validated by the compose-spec parser, its promises are checked
(healthchecks, noeviction, stop periods longer than SHUTDOWN_GRACE_S), and then each service's
own command and environment from it run as native processes: Redis, two APIs, two workers, and
Debian's nginx with the UI image's configuration, with jobs submitted through it."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from compose_spec import PyCompose

from deploy.local.nginx import LocalNginx
from deploy.nginx.render import NAMES
from dtq.config import Settings
from dtq.embedded_redis import (
    HASH_MAX_LISTPACK_VALUE,
    ZSET_MAX_LISTPACK_VALUE,
    find_server_binary,
    free_port,
)
from tests.conftest import ROOT, wait_http_ready

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
UI_DIST = ROOT / "ui" / "dist"
ADMIN = secrets.token_urlsafe(32)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # anchors and << merged, as compose does


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def _env(service: dict[str, Any], **overrides: str) -> dict[str, str]:
    env = {k: str(v) for k, v in service.get("environment", {}).items()}
    env = {k: ADMIN if v.startswith("${ADMIN_API_KEY") else v for k, v in env.items()}
    return {**env, **overrides}


def test_compose_file_is_valid() -> None:
    parsed = PyCompose.from_json(json.dumps(_compose()))
    assert parsed.service_names() == ["redis", "api", "worker", "nginx"]


def test_compose_keeps_its_promises() -> None:
    services = _compose()["services"]
    grace = Settings().SHUTDOWN_GRACE_S
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    # the embedded server's: job hashes with payloads up to 1 KiB and index buckets of the
    # longest stored ids stay listpacks
    assert int(redis[redis.index("--hash-max-listpack-value") + 1]) == HASH_MAX_LISTPACK_VALUE
    assert int(redis[redis.index("--zset-max-listpack-value") + 1]) == ZSET_MAX_LISTPACK_VALUE
    assert services["redis"]["volumes"]
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
    for name in ("api", "worker"):
        assert _seconds(services[name]["stop_grace_period"]) > grace
        assert float(services[name]["environment"]["SHUTDOWN_GRACE_S"]) == grace
    assert services["api"]["deploy"]["replicas"] == 2
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert set(services["nginx"]["environment"]) == set(NAMES)
    assert services["nginx"]["environment"]["DTQ_MAX_BODY_BYTES"] == services["api"][
        "environment"]["MAX_REQUEST_BYTES"]  # fmt: skip


def test_dockerfiles_build_what_exists() -> None:
    app = (DOCKER / "Dockerfile").read_text()
    ui = (DOCKER / "ui.Dockerfile").read_text()
    assert app.count("\nFROM ") + app.startswith("FROM ") >= 2  # multi-stage
    runtime = app.rsplit("\nFROM ", 1)[1]
    assert "USER dtq" in runtime and "requirements-dev" not in app  # non-root, runtime deps
    assert "redis" not in runtime.lower()  # no server inside
    for dockerfile in (app, ui):
        for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
            for path in source.split():
                assert (ROOT / path).exists(), path
    assert "/etc/nginx/templates/dtq.conf.template" in ui


@pytest.fixture
def native(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()


def _command(argv: list[str]) -> list[str]:
    """The service's command with `dtq` and `python` resolved to this environment's."""
    first = {"dtq": str(Path(sys.executable).parent / "dtq"), "python": sys.executable}
    return [first.get(argv[0], argv[0]), *argv[1:]]


def test_compose_services_run_natively(
    tmp_path: Path, native: list[subprocess.Popen[bytes]]
) -> None:
    services = _compose()["services"]
    if not (UI_DIST / "index.html").exists():
        pytest.fail("ui/dist is missing: ./scripts/ui.sh builds it")
    # redis: its command, on a free loopback port and a temporary directory
    redis_port = free_port()
    redis_cmd = [find_server_binary(), *services["redis"]["command"][1:],
                 "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                 "--save", ""]  # fmt: skip
    native.append(subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL))
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    # the API replicas: the service's command and environment, each on its own port
    ports = [free_port() for _ in range(services["api"]["deploy"]["replicas"])]
    for port in ports:
        env = _env(services["api"], REDIS_URL=redis_url, HOST="127.0.0.1", PORT=str(port))
        native.append(subprocess.Popen(_command(services["api"]["command"]),
                                       env={"PATH": "/usr/bin:/bin", **env}))  # fmt: skip
    for port in ports:
        wait_http_ready(f"http://127.0.0.1:{port}", timeout=30)
        check = [a.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                 for a in services["api"]["healthcheck"]["test"][1:]]  # fmt: skip
        assert subprocess.run(_command(check), timeout=10).returncode == 0
    # the workers
    worker_env = _env(services["worker"], REDIS_URL=redis_url)
    for _ in range(services["worker"]["deploy"]["replicas"]):
        native.append(subprocess.Popen(_command(services["worker"]["command"]),
                                       env={"PATH": "/usr/bin:/bin", **worker_env}))  # fmt: skip
    # nginx: the UI image's configuration with the service's environment
    nginx_env = services["nginx"]["environment"]
    nginx = LocalNginx(tmp_path / "nginx", free_port(), [f"127.0.0.1:{p}" for p in ports],
                       UI_DIST, max_body_bytes=int(nginx_env["DTQ_MAX_BODY_BYTES"]))  # fmt: skip
    nginx.start()
    try:
        with httpx.Client(base_url=nginx.url, timeout=10) as http:
            assert '<div id="root">' in http.get("/").text
            admin = {"Authorization": f"Bearer {ADMIN}"}
            assert http.post("/api/admin/tenants", json={"name": "acme"}, headers=admin).is_success
            key = http.post("/api/admin/tenants/acme/keys", headers=admin).json()["key"]
            tenant = {"Authorization": f"Bearer {key}"}
            jobs = [{"task_type": "echo", "payload": {"n": i}} for i in range(50)]
            ids = http.post("/api/jobs/batch", json={"jobs": jobs}, headers=tenant).json()["ids"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                done = [http.get(f"/api/jobs/{i}", headers=tenant).json()["status"] for i in ids]
                if done == ["succeeded"] * 50:
                    break
                time.sleep(0.2)
            assert done == ["succeeded"] * 50
        health = _command(services["worker"]["healthcheck"]["test"][1:])
        assert subprocess.run(health, env={"PATH": "/usr/bin:/bin", **worker_env}).returncode == 0
        # graceful stop well inside each service's stop_grace_period
        for proc, name in zip(native[1:], ["api"] * len(ports) + ["worker"] * 2, strict=True):
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=_seconds(services[name]["stop_grace_period"]))
            assert proc.returncode in (0, -signal.SIGTERM), name  # uvicorn re-raises SIGTERM
            assert time.monotonic() - start < _seconds(services[name]["stop_grace_period"])
    finally:
        nginx.stop()
