"""Render, Netlify, Vercel and the EC2 instance files against the app: every command, path,
port and setting name they use exists, and the shutdown delays outlast SHUTDOWN_GRACE_S. The
Render start script itself is run (API and worker)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml

from dtq.api.main import create_app
from dtq.api.routes import feed
from dtq.config import Settings
from dtq.embedded_redis import free_port
from tests.conftest import ROOT, wait_http_ready

PLATFORM_ENV = {"PYTHON_VERSION", "WEB_CONCURRENCY"}  # Render's, not DTQ settings
GRACE = Settings().SHUTDOWN_GRACE_S


def _routes() -> set[str]:
    """Every HTTP path the API serves (its OpenAPI document), and the feed's WebSocket."""
    app = create_app(Settings(REDIS_URL="redis://127.0.0.1:1/0"))
    return set(app.openapi()["paths"]) | {route.path for route in feed.router.routes}  # type: ignore[attr-defined]


def _render() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def _service(kind: str) -> dict:
    return next(s for s in _render()["services"] if s["type"] == kind)


def test_render_blueprint_names_what_exists() -> None:
    web, worker, kv = _service("web"), _service("worker"), _service("keyvalue")
    assert web["healthCheckPath"] in _routes()
    assert kv["maxmemoryPolicy"] == "noeviction" and "ipAllowList" in kv
    for service in (web, worker):
        assert service["startCommand"].split()[0] == "./render_backend_start.sh"
        assert os.access(ROOT / "render_backend_start.sh", os.X_OK)
        assert service["maxShutdownDelaySeconds"] > GRACE
        for var in service["envVars"]:
            assert var["key"] in Settings.model_fields or var["key"] in PLATFORM_ENV, var["key"]
            source = var.get("fromService")
            if source:
                assert source["name"] == kv["name"] and source["type"] == "keyvalue"
    assert "pip install -r requirements.txt" in web["buildCommand"]


def _dashboard_targets() -> list[tuple[str, str, str]]:
    """(file, API proxy destination, WebSocket URL) of Netlify's and Vercel's files."""
    netlify = tomllib.loads((ROOT / "ui" / "netlify.toml").read_text())
    proxy = next(r for r in netlify["redirects"] if r["from"] == "/api/*")
    vercel = json.loads((ROOT / "ui" / "vercel.json").read_text())
    rewrite = next(r for r in vercel["rewrites"] if r["source"].startswith("/api/"))
    ws = re.search(r"VITE_WS_URL:-(\S+)\}", vercel["buildCommand"])
    assert ws is not None
    return [
        ("netlify", proxy["to"], netlify["build"]["environment"]["VITE_WS_URL"]),
        ("vercel", rewrite["destination"], ws.group(1)),
    ]


@pytest.mark.parametrize("name,proxy,ws", _dashboard_targets())
def test_dashboard_hosts_proxy_the_api_and_name_the_feed(name: str, proxy: str, ws: str) -> None:
    api_host = f"https://{_service('web')['name']}.onrender.com"
    assert proxy.startswith(api_host + "/"), name  # the Render service's URL
    assert ws == api_host.replace("https", "wss") + "/ws" and "/ws" in _routes()
    client = (ROOT / "ui" / "src" / "api" / "client.ts").read_text()
    assert "import.meta.env.VITE_WS_URL" in client and "API_BASE" in client
    package = json.loads((ROOT / "ui" / "package.json").read_text())
    assert "build" in package["scripts"]


def test_dashboard_hosts_build_and_fall_back_to_the_app() -> None:
    netlify = tomllib.loads((ROOT / "ui" / "netlify.toml").read_text())
    assert netlify["build"]["base"] == "ui" and netlify["build"]["publish"] == "dist"
    assert {"from": "/*", "to": "/index.html", "status": 200} in netlify["redirects"]
    vercel = json.loads((ROOT / "ui" / "vercel.json").read_text())
    assert vercel["outputDirectory"] == "dist"
    assert vercel["rewrites"][-1] == {"source": "/(.*)", "destination": "/index.html"}


def test_ec2_instance_files() -> None:
    ec2 = ROOT / "deploy" / "ec2"
    for script in ("setup-instance.sh", "dtq-release", "package.sh"):
        assert subprocess.run(["bash", "-n", str(ec2 / script)]).returncode == 0, script
    for unit, module in (("dtq-api.service", "dtq.api"), ("dtq-worker@.service", "dtq.worker")):
        text = (ec2 / "systemd" / unit).read_text()
        assert f"-m {module}" in text and "User=dtq" in text and "Restart=on-failure" in text
        stop = int(re.search(r"^TimeoutStopSec=(\d+)", text, re.M).group(1))
        assert stop > GRACE and "KillSignal=SIGTERM" in text
    release = (ec2 / "dtq-release").read_text()
    assert "/health/ready" in release and "/health/ready" in _routes()
    setup = (ec2 / "setup-instance.sh").read_text()
    assert "X-aws-ec2-metadata-token" in setup  # IMDSv2 tokens, nothing else
    assert all("X-aws-ec2-metadata-token" in line for line in setup.splitlines()
               if "169.254.169.254/latest/meta" in line)  # fmt: skip


def test_render_start_script_runs_api_and_worker(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PORT": str(port),
           "REDIS_URL": redis_url, "AUTH_DISABLED": "true", "KEY_PREFIX": f"render{port}",
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "INFO"}  # fmt: skip
    log = (tmp_path / "api.log").open("w")
    api = subprocess.Popen([str(ROOT / "render_backend_start.sh")], env=env, stdout=log,
                           stderr=subprocess.STDOUT)  # fmt: skip
    worker = subprocess.Popen([str(ROOT / "render_backend_start.sh"), "worker", "--tasks",
                               "dtq.demo_tasks"], env=env)  # fmt: skip
    try:
        wait_http_ready(f"http://127.0.0.1:{port}", timeout=30)
        forwarded = {"X-Forwarded-For": "198.51.100.4"}
        body = {"task_type": "echo", "payload": {"n": 1}}
        job = httpx.post(f"http://127.0.0.1:{port}/jobs", headers=forwarded, json=body).json()
        for _ in range(100):
            got = httpx.get(f"http://127.0.0.1:{port}/jobs/{job['id']}").json()
            if got["status"] == "succeeded":
                break
            subprocess.run(["sleep", "0.1"])
        assert got["status"] == "succeeded"
        # An answer with an access line of its own (a successful submission is only counted).
        missing = httpx.get(f"http://127.0.0.1:{port}/jobs/nothing-here", headers=forwarded)
        assert missing.status_code == 404
    finally:
        for proc in (api, worker):
            proc.terminate()
            proc.wait(timeout=30)
        log.close()
    out = (tmp_path / "api.log").read_text()
    assert out.count("Started server process") == 2  # WEB_CONCURRENCY processes
    assert "198.51.100.4" in out  # Render's proxy's X-Forwarded-For is believed
