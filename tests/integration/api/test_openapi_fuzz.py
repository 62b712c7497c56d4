"""schemathesis, all checks, against a real uvicorn process serving /openapi.json."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import ROOT, Processes

ADMIN = "s" * 40


def _schemathesis(url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {key}",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--no-color",
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


async def test_schemathesis_finds_no_failures(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    # Production settings: keys required, /dev off (its 1,000,000-job requests are no fuzz).
    settings = make_settings(
        ENVIRONMENT="production", AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN, API_DOCS=True
    )
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="fuzz", rate_per_s=1e6, burst=10_000_000))
    key = (await engine.tenants.create_key("fuzz")).key
    await redis.aclose()
    url = processes.api(settings)
    tenant = _schemathesis(url, key, "--exclude-path-regex", "^/(admin|stats)")
    assert tenant.returncode == 0, tenant.stdout[-6000:]
    admin = _schemathesis(url, ADMIN, "--include-path-regex", "^/(admin|stats)")
    assert admin.returncode == 0, admin.stdout[-6000:]
