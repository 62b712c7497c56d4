"""What the load runs share: a keyed local stack (deploy/local) with tenants made for the load,
Locust started headless against it, and its figures read back. Loopback only."""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "app"), str(ROOT)]  # this checkout's dtq and deploy/

from deploy.local.releases import make_release  # noqa: E402
from deploy.local.stack import LocalStack  # noqa: E402
from dtq.embedded_redis import EmbeddedRedis  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
BURST_SHAPE = Path(__file__).resolve().parent / "burst_shape.py"
UI_DIST = ROOT / "ui" / "dist"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def loopback_only(url: str) -> None:
    """Refuse any target but this machine's loopback."""
    host = httpx.URL(url).host
    if host not in LOOPBACK and host != "::1":
        raise SystemExit(f"error: load goes to 127.0.0.1 only, not {host}")


@dataclass
class Harness:
    """A workdir, Redis, a keyed stack and the tenants' keys."""

    stack: LocalStack
    workdir: Path
    redis_url: str
    admin_key: str
    api_key: str = ""
    tenant_keys: list[str] = field(default_factory=list)

    def admin(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return httpx.Client(base_url=f"http://{self.stack.addresses[0]}", headers=headers)

    def make_tenant(self, name: str, **limits: Any) -> str:
        """Create a tenant with these limits; a new key of it."""
        with self.admin() as admin:
            admin.post("/admin/tenants", json={"name": name, **limits}).raise_for_status()
            created = admin.post(f"/admin/tenants/{name}/keys")
            created.raise_for_status()
            key: str = created.json()["key"]
            return key


def start(
    resources: ExitStack,
    apis: int = 2,
    workers: int = 2,
    settings: dict[str, str] | None = None,
    worker_concurrency: int = 50,
) -> Harness:
    """Redis (embedded unless REDIS_URL is a loopback URL), the current checkout as release
    `r1`, the stack, a `load` tenant with limits high enough for any run."""
    workdir = Path(tempfile.mkdtemp(prefix="dtq-load-"))
    if os.environ.get("DTQ_LOAD_KEEP") == "1":  # keep the processes' logs to read
        print(f"workdir (kept): {workdir}", flush=True)
    else:
        resources.callback(shutil.rmtree, workdir, ignore_errors=True)
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        loopback_only(redis_url.replace("redis", "http", 1))
    else:
        server = EmbeddedRedis(workdir / "redis")
        redis_url = server.start()
        resources.callback(server.stop)
    admin_key = secrets.token_urlsafe(32)
    env = {
        "REDIS_URL": redis_url,
        "KEY_PREFIX": f"load{secrets.token_hex(4)}",
        "ADMIN_API_KEY": admin_key,
        "AUTH_DISABLED": "false",
        "ALLOW_DEMO_TASKS": "true",
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_GRACE_S": "5",
        **(settings or {}),
    }
    stack = LocalStack(
        workdir, env, UI_DIST, worker_args=("--concurrency", str(worker_concurrency))
    )
    resources.callback(stack.close)
    release = make_release(workdir, "r1")
    stack.start(release, apis=apis, workers=workers)
    harness = Harness(stack, workdir, redis_url, admin_key)
    harness.api_key = harness.make_tenant("load", rate_per_s=1_000_000, burst=10_000_000)
    return harness


def locust(
    host: str,
    users: list[str],
    n: int,
    duration_s: int,
    out: Path,
    env: dict[str, str],
    shape: bool = False,
    cpus: set[int] | None = None,
) -> subprocess.Popen[bytes]:
    """Locust headless against `host` (CSV and HTML reports under `out`), started now."""
    loopback_only(host)
    out.mkdir(parents=True, exist_ok=True)
    files = f"{LOCUSTFILE},{BURST_SHAPE}" if shape else str(LOCUSTFILE)
    cmd = [
        sys.executable, "-m", "locust", "-f", files, "--headless", "--host", host,
        "-u", str(n), "-r", str(max(1, n)), "-t", f"{duration_s}s", "--stop-timeout", "10",
        "--csv", str(out / "locust"), "--html", str(out / "locust.html"),
        "--only-summary", "--loglevel", "WARNING", *users,
    ]  # fmt: skip

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    return subprocess.Popen(cmd, env={**os.environ, **env}, preexec_fn=pin)


def stats(out: Path) -> dict[str, dict[str, float]]:
    """Locust's stats table (locust_stats.csv): name -> requests, failures, rps, p50, p99."""
    rows: dict[str, dict[str, float]] = {}
    with (out / "locust_stats.csv").open() as f:
        for row in csv.DictReader(f):
            rows[row["Name"]] = {
                "requests": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"] or 0),
                "p99_ms": float(row["99%"] or 0),
            }
    return rows


def failures(out: Path) -> list[dict[str, str]]:
    """Locust's failures table (locust_failures.csv)."""
    path = out / "locust_failures.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))
