"""/jobs: submit, read, list, cancel, and bad input that changes nothing."""

from __future__ import annotations

import pytest

from dtq.queue import Engine, job_index

UNKNOWN = "0" * 32


async def _snapshot(engine: Engine) -> tuple[int, int, dict[str, str]]:
    r, k = engine.redis, engine.keys
    return await r.xlen(k.stream), await job_index.count(r, k.index), await r.hgetall(k.stats)


async def test_submit_and_read(api) -> None:
    r = await api.post(
        "/jobs",
        json={"task_type": "echo", "payload": {"a": 1}, "partition_key": "p1", "max_retries": 1},
    )
    assert r.status_code == 201
    job = r.json()
    assert job["status"] == "pending" and job["max_retries"] == 1 and job["partition_key"] == "p1"
    got = (await api.get(f"/jobs/{job['id']}")).json()
    assert got["payload"] == {"a": 1} and got["created_at"] == job["created_at"]


async def test_batch_submit(api, engine: Engine) -> None:
    r = await api.post("/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 1000})
    assert r.status_code == 201
    body = r.json()
    assert body["count"] == 1000 and len(set(body["ids"])) == 1000
    assert await engine.redis.xlen(engine.keys.stream) == 1000


async def test_list_newest_first_with_cursor_and_filters(api) -> None:
    ids = (
        await api.post(
            "/jobs/batch", json={"jobs": [{"task_type": "noop"}] * 7 + [{"task_type": "echo"}] * 3}
        )
    ).json()["ids"]
    await api.post(f"/jobs/{ids[0]}/cancel")
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/jobs", params=params)).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    echo = (await api.get("/jobs", params={"task_type": "echo"})).json()
    assert [j["id"] for j in echo["data"]] == list(reversed(ids[7:]))
    canceled = (await api.get("/jobs", params={"status": "canceled"})).json()
    assert [j["id"] for j in canceled["data"]] == [ids[0]]


async def test_cancel_answers(api) -> None:
    job = (await api.post("/jobs", json={"task_type": "noop"})).json()
    r = await api.post(f"/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    again = await api.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "canceled" in again.json()["detail"]


BAD_INPUTS = [
    ("post", "/jobs", {"json": {"task_type": 12}}, 422, "task_type"),
    ("post", "/jobs", {"json": {"payload": {}}}, 422, "task_type"),
    ("post", "/jobs", {"json": {"task_type": "echo", "payload": [1]}}, 422, "payload"),
    ("post", "/jobs", {"json": {"task_type": "echo", "payload": "x"}}, 422, "payload"),
    ("post", "/jobs", {"json": {"task_type": "echo", "max_retries": "many"}}, 422, "max_retries"),
    ("post", "/jobs", {"json": {"task_type": "bad type!"}}, 422, "task_type"),
    ("post", "/jobs", {"json": {"task_type": "echo", "extra": 1}}, 422, "extra"),
    (
        "post",
        "/jobs",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        422,
        "json",
    ),
    (
        "post",
        "/jobs",
        {"json": {"task_type": "echo", "payload": {"blob": "x" * 1_100_000}}},
        413,
        "payload",
    ),
    ("post", "/jobs/batch", {"json": {"jobs": []}}, 422, "jobs"),
    ("post", "/jobs/batch", {"json": {"jobs": [{"task_type": "noop"}] * 1001}}, 422, "jobs"),
    (
        "post",
        "/jobs/batch",
        {
            "json": {
                "jobs": [
                    {"task_type": "noop"},
                    {"task_type": "noop", "payload": {"b": "x" * 1_100_000}},
                ]
            }
        },
        413,
        "payload",
    ),
    ("get", f"/jobs/{UNKNOWN}", {}, 404, "not found"),
    ("get", "/jobs/not:an-id", {}, 422, "job_id"),
    ("get", "/jobs/a*b", {}, 422, "job_id"),
    ("get", "/jobs/" + "a" * 65, {}, 422, "job_id"),
    ("post", "/jobs", {"json": {"task_type": "noop", "id": "x{0}"}}, 422, "id"),
    ("post", "/jobs", {"json": {"task_type": "noop", "priority": "urgent"}}, 422, "priority"),
    ("post", "/jobs", {"json": {"task_type": "noop", "depends_on": ["a:b"]}}, 422, "depends_on"),
    ("post", "/jobs", {"json": {"task_type": "noop", "depends_on": [UNKNOWN]}}, 422, UNKNOWN),
    (
        "post",
        "/jobs",
        {"json": {"task_type": "noop", "id": "me", "depends_on": ["me"]}},
        422,
        "itself",
    ),
    (
        "post",
        "/jobs/batch",
        {
            "json": {
                "jobs": [
                    {"task_type": "noop", "id": "a", "depends_on": ["c"]},
                    {"task_type": "noop", "id": "b", "depends_on": ["a"]},
                    {"task_type": "noop", "id": "c", "depends_on": ["b"]},
                ]
            }
        },
        422,
        "cycle",
    ),
    ("get", "/jobs", {"params": {"status": "exploded"}}, 422, "status"),
    ("get", "/jobs", {"params": {"limit": 0}}, 422, "limit"),
    ("get", "/jobs", {"params": {"cursor": "abc"}}, 422, "cursor"),
    ("post", f"/jobs/{UNKNOWN}/cancel", {}, 404, "not found"),
    ("post", f"/dlq/{UNKNOWN}/retry", {}, 404, "not found"),
    ("delete", f"/dlq/{UNKNOWN}", {}, 404, "not found"),
    ("get", "/dlq", {"params": {"cursor": "x"}}, 422, "cursor"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "names"), BAD_INPUTS)
async def test_bad_input_gets_a_4xx_and_changes_nothing(
    api, engine: Engine, method, path, kwargs, status, names
) -> None:
    await api.post("/jobs", json={"task_type": "noop"})
    before = await _snapshot(engine)
    r = await api.request(method.upper(), path, **kwargs)
    assert r.status_code == status, r.text
    assert names in r.text
    assert await _snapshot(engine) == before


async def test_cancel_of_a_finished_job_is_409_and_changes_nothing(
    api, engine: Engine, start_worker
) -> None:
    start_worker()
    job = (await api.post("/jobs", json={"task_type": "noop"})).json()
    import asyncio

    for _ in range(200):
        if (await api.get(f"/jobs/{job['id']}")).json()["status"] == "succeeded":
            break
        await asyncio.sleep(0.02)
    before = await engine.redis.hgetall(engine.keys.job(job["id"]))
    r = await api.post(f"/jobs/{job['id']}/cancel")
    assert r.status_code == 409 and "succeeded" in r.json()["detail"]
    assert await engine.redis.hgetall(engine.keys.job(job["id"])) == before
