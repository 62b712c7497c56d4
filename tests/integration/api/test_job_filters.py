"""GET /jobs filters the dashboard uses: queue, priority, and finding a job by idempotency key."""

from __future__ import annotations

import asyncio

import httpx


async def test_jobs_filter_by_queue_and_priority_and_find_by_idempotency_key(
    api: httpx.AsyncClient,
) -> None:
    await api.post("/jobs", json={"id": "a", "task_type": "noop", "queue": "emails"})
    await asyncio.sleep(0.003)  # creation times are in ms: a and b must not share one
    await api.post("/jobs", json={"id": "b", "task_type": "noop", "priority": "high"})
    await api.post(
        "/jobs", json={"id": "c", "task_type": "noop"}, headers={"Idempotency-Key": "k1"}
    )

    async def ids(**params: str) -> list[str]:
        r = await api.get("/jobs", params=params)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["data"]]

    assert await ids(queue="emails") == ["a"]
    assert await ids(priority="high") == ["b"]
    assert await ids(idempotency_key="k1") == ["c"]
    assert await ids(idempotency_key="never-used") == []
    assert (await api.get("/jobs", params={"priority": "urgent"})).status_code == 422
    b = (await api.get("/jobs/b")).json()["created_at"]
    assert await ids(created_after=b) == ["c", "b"]
    assert await ids(created_before=b) == ["a"]
    assert (await api.get("/jobs", params={"created_before": "0.5"})).status_code == 422
    for number in ("-1.401298464324817e-45", "1e3", "nan", " 17 "):  # epoch seconds, any notation
        assert (await api.get("/jobs", params={"created_after": number})).status_code == 422
