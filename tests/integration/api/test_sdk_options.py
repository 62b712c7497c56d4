"""The SDK as people expect it: the HTTP API's field names, every failure a DTQError, 429s
retried on request, wait() backing off (against the app in process, keys on)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from dtq.api.main import create_app
from dtq.client import (
    AsyncDTQClient,
    DTQClientError,
    DTQConnectionError,
    InvalidRequestError,
)
from dtq.config import Settings
from dtq.errors import DTQError
from dtq.models import TenantCreate
from dtq.queue import Engine

ADMIN = "b" * 40


@pytest.fixture
async def app_and_key(make_settings: Callable[..., Settings]) -> AsyncIterator[tuple[object, str]]:
    settings = make_settings(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine: Engine = app.state.engine
        await engine.tenants.create(TenantCreate(name="acme", rate_per_s=20, burst=2))
        yield app, (await engine.tenants.create_key("acme")).key


def client(app: object, key: str, **kw: object) -> AsyncDTQClient:
    transport = httpx.ASGITransport(app=app)
    return AsyncDTQClient("http://dtq", api_key=key, transport=transport, **kw)


async def test_submit_takes_the_http_apis_names(app_and_key) -> None:
    app, key = app_and_key
    async with client(app, key) as dtq:
        job = await dtq.submit(
            "nobody.serves_this",
            {"a": 1},
            id="mine-1",
            queue="emails",
            idempotency_key="k-1",
            trace_id="trace-1",
        )
        assert (job.id, job.queue, job.trace_id) == ("mine-1", "emails", "trace-1")
        assert job.warnings and "'nobody.serves_this'" in job.warnings[0]
        again = await dtq.submit("nobody.serves_this", {"a": 1}, id="mine-1", queue="emails",
                                 idempotency_key="k-1", trace_id="trace-1")  # fmt: skip
        assert again.id == "mine-1"  # the idempotent replay


async def test_every_failure_is_a_dtq_error(app_and_key) -> None:
    app, key = app_and_key
    async with client(app, key) as dtq:
        with pytest.raises(InvalidRequestError, match="max_retries") as local:
            await dtq.submit("noop", max_retries=-1)  # refused before anything is sent
        assert isinstance(local.value, DTQError) and local.value.code == "invalid_request"
        with pytest.raises(DTQClientError) as answered:
            await dtq.get_job("f" * 32)
        assert answered.value.code == "job_not_found"
    async with AsyncDTQClient("http://127.0.0.1:9", timeout=1) as nowhere:
        with pytest.raises(DTQConnectionError) as down:
            await nowhere.health()
        assert isinstance(down.value, DTQError)


async def test_a_429_is_raised_or_retried_after_retry_after(app_and_key) -> None:
    app, key = app_and_key
    async with client(app, key) as dtq:
        await dtq.submit("noop")
        await dtq.submit("noop")  # the burst of 2 is spent
        with pytest.raises(DTQClientError) as limited:
            await dtq.submit("noop")
        assert limited.value.status_code == 429 and limited.value.retry_after_s
    async with client(app, key, rate_limit_retries=3) as patient:
        t0 = time.monotonic()
        for _ in range(3):
            await patient.submit("noop")  # 20/s: waits its Retry-After, then goes through
        assert time.monotonic() - t0 < 10
    async with client(app, key, rate_limit_retries=3, max_retry_wait_s=0.0) as hasty:
        for _ in range(5):
            try:
                await hasty.submit("noop")
            except DTQClientError as exc:
                assert exc.status_code == 429  # a wait over max_retry_wait_s is not taken
                break
        else:
            raise AssertionError("never rate limited")


async def test_wait_backs_off(app_and_key) -> None:
    app, key = app_and_key
    polls = 0
    inner = httpx.ASGITransport(app=app)

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal polls
            polls += request.method == "GET"
            return await inner.handle_async_request(request)

    async with AsyncDTQClient("http://dtq", api_key=key, transport=Counting()) as dtq:
        job = await dtq.submit("noop", delay_ms=3000)  # no worker: it never finishes
        with pytest.raises(TimeoutError):
            await dtq.wait(job.id, timeout=3)
    assert polls <= 12  # every 50 ms would be 60
