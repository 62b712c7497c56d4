"""Property-based fuzz of the routes that take a body, against a real uvicorn with keys on:
random JSON (with the numbers, keys and nesting that broke it before), random bytes and random
media types, with and without a key. No answer may be a 5xx; every refusal is JSON with a code."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import Processes

PATHS = ["/jobs", "/jobs/batch", "/schedules", "/dlq/retry", "/jobs/j1/cancel", "/admin/tenants"]
MEDIA_TYPES = [
    None,
    "application/json",
    "Application/JSON",
    "application/json; charset=latin-1",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
    "json",
]
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=30))
FIELDS = st.sampled_from(
    [
        "task_type",
        "payload",
        "max_retries",
        "timeout_s",
        "priority",
        "id",
        "jobs",
        "name",
        "cron",
        "depends_on",
        "queue",
        "delay_s",
        "limit",
        "dry_run",
        "rate_per_s",
        "x",
    ]
)


def _json_text(value: Any) -> str:
    """JSON text that may hold what no encoder writes: NaN, 1e400, repeated keys."""
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        return value
    if isinstance(value, list) and value and value[0] == "__object__":
        return "{" + ",".join(f'"{k}":{_json_text(v)}' for k, v in value[1:]) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return json.dumps(value)


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(FIELDS, inner), max_size=5).map(lambda pairs: ["__object__", *pairs]),
    ),
    max_leaves=20,
)
BODIES = st.one_of(VALUES.map(lambda v: _json_text(v).encode()), st.binary(max_size=200))


async def test_no_body_gives_a_server_error(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    conf = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY="f" * 40)
    redis = create_redis(conf)
    engine = Engine(redis, conf)
    await engine.setup()
    await engine.tenants.create(TenantCreate(name="fuzz", rate_per_s=1e6, burst=10_000_000))
    key = (await engine.tenants.create_key("fuzz")).key
    await redis.aclose()
    url = processes.api(conf)
    keys = [None, f"Bearer {key}", "Bearer " + "f" * 40, "Bearer dtq_nope", "Basic x"]
    failures: list[str] = []

    @settings(
        max_examples=1000,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path=st.sampled_from(PATHS),
        body=BODIES,
        media=st.sampled_from(MEDIA_TYPES),
        auth=st.sampled_from(keys),
    )
    def probe(path: str, body: bytes, media: str | None, auth: str | None) -> None:
        headers = {}
        if media is not None:
            headers["content-type"] = media
        if auth is not None:
            headers["authorization"] = auth
        r = client.post(path, content=body, headers=headers)
        try:
            explained = r.status_code < 400 or "detail" in r.json()
        except ValueError:
            explained = False
        if r.status_code >= 500 or not explained:
            failures.append(f"{path} {media} {body[:120]!r} -> {r.status_code} {r.text[:200]}")

    with httpx.Client(base_url=url, timeout=10) as client:
        await asyncio.to_thread(probe)
    assert not failures, failures[:5]
