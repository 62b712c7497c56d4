"""The dashboard in a real Chromium against the real stack: live jobs, failures and dead
letters, cancel, tenant isolation at the socket, an API restart, every page's screenshot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import Page, WebSocket, expect

from dtq.client import AsyncDTQClient
from dtq.models import JobCreate, JobStatus, TenantCreate
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, screenshot

ADMIN = "e" * 40


async def live(page: Page) -> None:
    """Wait until the page's feed is connected."""
    await page.wait_for_selector("[data-testid=feed-state]:text-is('live')", timeout=15_000)


def record_frames(page: Page) -> list[str]:
    """Every WebSocket frame the page receives, as text."""
    frames: list[str] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    return frames


async def page_counts(page: Page) -> dict[str, int]:
    counts: dict[str, int] = await page.eval_on_selector_all(
        "a[data-count]",
        "els => Object.fromEntries(els.map(e => [e.dataset.count,"
        " Number(e.querySelector('.n').textContent.replace(/,/g, ''))]))",
    )
    return counts


async def counts_match_api(page: Page, stack: Stack) -> None:
    """The Jobs page's counts by status equal the API's (they refresh within a second)."""

    async def same() -> bool:
        api = httpx.get(stack.api_url + "/stats").json()["jobs_by_status"]
        return await page_counts(page) == {s: api[s] for s in JobStatus}

    await wait_for(same, timeout=10)


async def test_submitted_jobs_appear_and_turn_succeeded_without_a_reload(
    stack: Stack, page: Page
) -> None:
    await page.goto(stack.url + "/jobs?limit=200")
    await live(page)
    await page.evaluate("window.__sameDocument = true")
    async with AsyncDTQClient(stack.url + "/api") as dtq:
        ids = await dtq.submit_many([JobCreate(task_type="noop") for _ in range(200)])
    await expect(page.locator("tr[data-job][data-status=succeeded]")).to_have_count(
        200, timeout=30_000
    )
    rows = await page.eval_on_selector_all("tr[data-job]", "rs => rs.map(r => r.dataset.job)")
    assert sorted(rows) == sorted(ids)
    assert await page.evaluate("window.__sameDocument") is True  # no reload happened
    await counts_match_api(page, stack)
    await screenshot(page, "jobs")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "jobs-phone")


async def test_a_failing_job_shows_its_errors_then_is_retried_from_dead_letters(
    stack: Stack, page: Page
) -> None:
    async with AsyncDTQClient(stack.url + "/api") as dtq:
        ids = await dtq.submit_many(
            [JobCreate(task_type="broken", payload={"text": "x"}, max_retries=1) for _ in range(3)]
        )
        await wait_for(lambda: _all_status(dtq, ids, "dead"), timeout=20)
    await page.goto(f"{stack.url}/jobs/{ids[0]}")
    await page.wait_for_selector("ol.errors li[data-attempt='2']")
    assert await page.locator("ol.errors li").count() == 2
    assert "ValueError" in await page.locator("ol.errors").inner_text()
    await page.locator("ol.errors details summary").first.click()
    assert "_parse" in await page.locator("ol.errors details pre").first.inner_text()
    await page.wait_for_selector(".timeline .track .seg")  # the timeline is its own request
    assert await page.locator(".timeline .track .seg").count() >= 4  # pending, running x2, ...
    await screenshot(page, "job-detail")

    await page.goto(f"{stack.url}/dead-letters?task_type=broken")
    await page.wait_for_selector("tr[data-dead]")
    assert await page.locator("tr[data-dead]").count() == 3
    await page.get_by_role("button", name="Retry all matching…").click()
    preview = page.get_by_test_id("retry-preview")
    await preview.wait_for()
    assert await preview.inner_text() == "3 jobs will be retried"
    await screenshot(page, "dead-letters")
    await page.get_by_role("button", name="Retry 3 jobs").click()
    await page.get_by_text("Retried 3 jobs.").wait_for()
    for job_id in ids:
        timeline = httpx.get(f"{stack.api_url}/jobs/{job_id}/timeline").json()["data"]
        assert any(e["reason"] == "dlq_retry" for e in timeline)


async def _all_status(dtq: AsyncDTQClient, ids: list[str], status: str) -> bool:
    jobs = [await dtq.get_job(i) for i in ids]
    return all(j.status == status for j in jobs)


async def test_cancel_a_running_job_from_its_page_shows_canceled_live(
    stack: Stack, page: Page
) -> None:
    async with AsyncDTQClient(stack.url + "/api") as dtq:
        job = await dtq.submit("sleep", {"seconds": 60})
    await page.goto(f"{stack.url}/jobs/{job.id}")
    await live(page)
    await page.wait_for_selector("h1 .badge[data-status=running]", timeout=15_000)
    await page.get_by_role("button", name="Cancel").click()
    await page.wait_for_selector("h1 .badge[data-status=canceled]", timeout=10_000)
    assert httpx.get(f"{stack.api_url}/jobs/{job.id}").json()["status"] == "canceled"


async def test_a_tenant_never_sees_another_tenants_jobs_or_events(
    stack_factory: Callable[..., Any], page: Page
) -> None:
    stack: Stack = await stack_factory(AUTH_DISABLED=False, ADMIN_API_KEY=ADMIN)
    engine = stack.engine
    keys = {}
    for name in ("acme", "globex"):
        await engine.tenants.create(TenantCreate(name=name))
        keys[name] = (await engine.tenants.create_key(name)).key
    frames = record_frames(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    await page.goto(stack.url + "/")
    await page.get_by_label("API key").fill("dtq_wrong")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").get_by_text("That key is not valid").wait_for()
    await screenshot(page, "login")
    await page.get_by_label("API key").fill(keys["acme"])
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("tenant acme", exact=True).wait_for()
    await page.get_by_role("link", name="Jobs").click()
    await live(page)

    for name in ("acme", "globex"):
        async with AsyncDTQClient(stack.url + "/api", api_key=keys[name]) as dtq:
            await dtq.submit_many(
                [JobCreate(id=f"{name}-job-{i}", task_type="noop") for i in range(5)]
            )
    await expect(page.locator("tr[data-job][data-status=succeeded]")).to_have_count(
        5, timeout=20_000
    )
    assert "globex" not in await page.content()
    # at the socket: acme's events came, none of globex's, and no key in the URL
    await wait_for(lambda: _has(frames, "acme-job-4"), timeout=10)
    assert not any("globex" in f for f in frames)
    assert all(keys["acme"] not in url for url in sockets)
    events = [e for f in frames for e in json.loads(f).get("events", [])]
    assert {e["job_id"] for e in events} == {f"acme-job-{i}" for i in range(5)}

    # the admin key: tenants page with a key created and shown once
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_label("API key").fill(ADMIN)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("link", name="Tenants").click()
    await page.wait_for_selector("tr[data-tenant=globex]")
    await page.locator("tr[data-tenant=globex]").get_by_role("button", name="New key").click()
    new_key = await page.get_by_test_id("new-key").inner_text()
    assert (await engine.tenants.authenticate(new_key)) is not None
    await screenshot(page, "tenants")


async def _has(frames: list[str], text: str) -> bool:
    return any(text in f for f in frames)


async def test_the_page_reconnects_after_an_api_restart_and_misses_no_transition(
    stack: Stack, page: Page
) -> None:
    frames = record_frames(page)
    await page.goto(stack.url + "/jobs?limit=200")
    await live(page)
    async with AsyncDTQClient(stack.url + "/api") as dtq:
        await dtq.submit_many([JobCreate(id=f"before-{i}", task_type="noop") for i in range(20)])
    await expect(page.locator("tr[data-status=succeeded]")).to_have_count(20, timeout=20_000)

    stack.stop_api()
    await page.wait_for_selector("[data-testid=feed-state]:text-is('offline')", timeout=10_000)
    await stack.engine.producer.submit_many(
        [JobCreate(id=f"while-down-{i}", task_type="noop") for i in range(30)]
    )
    stats = stack.engine.stats
    await wait_for(lambda: _completed(stats, 50), timeout=20)  # the worker ran them meanwhile
    stack.start_api()

    await live(page)
    await expect(page.locator("tr[data-status=succeeded]")).to_have_count(50, timeout=20_000)
    await counts_match_api(page, stack)
    # the missed transitions came over the socket after the reconnect, not only by a reload
    events = [e for f in frames for e in json.loads(f).get("events", [])]
    succeeded = {e["job_id"] for e in events if e["status"] == "succeeded"}
    assert {f"while-down-{i}" for i in range(30)} <= succeeded


async def _completed(stats: Any, n: int) -> bool:
    return bool((await stats.queue_stats()).jobs_completed_total >= n)


async def test_every_page_renders(stack: Stack, page: Page) -> None:
    async with AsyncDTQClient(stack.url + "/api") as dtq:
        await dtq.submit_many(
            [JobCreate(task_type="sleep", payload={"seconds": 0.05}) for _ in range(30)]
        )
    await asyncio.sleep(6)  # two history samples, for the charts
    for path, name, ready in [
        ("/", "overview", "tr[data-queue=default]"),
        ("/submit", "submit", "form.submit"),
        ("/schedules", "schedules", "form[aria-label='new schedule']"),
    ]:
        await page.goto(stack.url + path)
        await page.wait_for_selector(ready)
        assert await page.locator("[role=alert]").count() == 0, await page.content()
        await screenshot(page, name)
    await page.goto(stack.url + "/submit")
    await page.get_by_label("Task type", exact=True).fill("echo")
    await page.get_by_label("Payload (JSON)").fill("{broken")
    assert await page.get_by_role("button", name="Submit").is_disabled()
    await page.get_by_label("Payload (JSON)").fill('{"hello": "world"}')
    await page.get_by_role("button", name="Submit").click()
    await page.get_by_text("Submitted").wait_for()
    await page.get_by_role("status").get_by_role("link").click()
    await page.wait_for_selector("h1 .badge[data-status=succeeded]", timeout=10_000)
    assert '"hello": "world"' in await page.locator("pre.json").first.inner_text()
    await page.go_back()
    await page.get_by_label("Task type", exact=True).wait_for()  # back/forward move between views


async def test_api_docs_render_with_the_network_closed(stack: Stack, page: Page) -> None:
    outside: list[str] = []

    async def only_local(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_local)
    for path, ready in [("/docs", ".opblock"), ("/redoc", "[data-section-id]")]:
        await page.goto(stack.api_url + path)
        await page.wait_for_selector(ready, timeout=15_000)
    await page.goto(stack.api_url + "/docs")
    await page.wait_for_selector(".opblock")
    assert await page.locator(".opblock").count() >= 20
    await screenshot(page, "api-docs")
    # only ReDoc's "powered by" logo is asked of a CDN (and missing it changes nothing)
    assert [u for u in outside if not u.endswith("/redoc/logo-mini.svg")] == []
