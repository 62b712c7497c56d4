"""Idempotency-Key: one job per key and body, however many times and however concurrently."""

from __future__ import annotations

import asyncio

import httpx

from dtq.queue import Engine, job_index


async def test_1000_concurrent_submissions_with_one_key_make_one_job(
    settings, processes, engine: Engine
) -> None:
    urls = [processes.api(settings), processes.api(settings)]  # two API processes
    body = {"task_type": "echo", "payload": {"order": 42}}
    in_flight = asyncio.Semaphore(100)  # 100 requests at once; httpx slows with more waiting

    async def submit(http: httpx.AsyncClient, i: int) -> httpx.Response:
        async with in_flight:
            headers = {"Idempotency-Key": "order-42"}
            return await http.post(f"{urls[i % 2]}/jobs", json=body, headers=headers)

    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        responses = await asyncio.gather(*(submit(http, i) for i in range(1000)))
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    assert await job_index.count(engine.redis, engine.keys.index) == 1
    assert await engine.redis.xlen(engine.keys.stream) == 1


async def test_same_key_same_body_replays_and_another_body_is_refused(api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await api.post(
        "/jobs", json={"task_type": "echo", "payload": {"a": 1}}, headers=headers
    )
    again = await api.post(
        "/jobs", json={"task_type": "echo", "payload": {"a": 1}}, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = await api.post(
        "/jobs", json={"task_type": "echo", "payload": {"a": 2}}, headers=headers
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_conflict"
    assert await job_index.count(engine.redis, engine.keys.index) == 1
    fresh = await api.post(
        "/jobs", json={"task_type": "echo", "payload": {"a": 2}}, headers={"Idempotency-Key": "k-2"}
    )
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


async def test_batch_items_carry_their_own_keys(api, engine: Engine) -> None:
    original = (await api.post("/jobs", json={"task_type": "noop", "idempotency_key": "a"})).json()
    batch = {
        "jobs": [
            {"task_type": "noop", "idempotency_key": "a"},
            {"task_type": "noop", "idempotency_key": "b"},
            {"task_type": "noop"},
        ]
    }
    ids = (await api.post("/jobs/batch", json=batch)).json()["ids"]
    assert ids[0] == original["id"] and len(set(ids)) == 3
    again = (await api.post("/jobs/batch", json=batch)).json()["ids"]
    assert again[:2] == ids[:2] and again[2] not in ids  # the keyless job is new each time
    assert await job_index.count(engine.redis, engine.keys.index) == 4
    conflict = {
        "jobs": [
            {"task_type": "noop", "idempotency_key": "c"},
            {"task_type": "echo", "idempotency_key": "a"},
        ]
    }
    r = await api.post("/jobs/batch", json=conflict)
    assert (
        r.status_code == 422 and await job_index.count(engine.redis, engine.keys.index) == 4
    )  # all or none


async def test_bad_idempotency_keys_are_refused(api, engine: Engine) -> None:
    dup = {
        "jobs": [
            {"task_type": "noop", "idempotency_key": "x"},
            {"task_type": "noop", "idempotency_key": "x"},
        ]
    }
    assert (await api.post("/jobs/batch", json=dup)).status_code == 422
    r = await api.post(
        "/jobs",
        json={"task_type": "noop", "idempotency_key": "a"},
        headers={"Idempotency-Key": "b"},
    )
    assert r.status_code == 422
    r = await api.post("/jobs", json={"task_type": "noop"}, headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 422
    assert await job_index.count(engine.redis, engine.keys.index) == 0
