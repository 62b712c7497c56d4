"""Tasks the tests run, besides the built-in ones."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import redis as sync_redis
import redis.asyncio as async_redis
from pydantic import BaseModel

from dtq.worker.registry import JobContext, Retry, TaskRegistry

tasks = TaskRegistry()
# On the tests' local cluster (DTQ_TEST_CLUSTER=1) the URL names any node: a cluster client.
CLUSTER = os.environ.get("DTQ_TEST_CLUSTER") == "1"


def sync_client(url: str) -> sync_redis.Redis:
    """A plain client of the tests' server, or a cluster client of the tests' cluster."""
    if CLUSTER:
        return sync_redis.RedisCluster.from_url(url)
    return sync_redis.Redis.from_url(url)


def async_client(url: str) -> async_redis.Redis:
    """sync_client's asyncio twin."""
    if CLUSTER:
        return async_redis.RedisCluster.from_url(url)
    return async_redis.Redis.from_url(url)


@tasks.task()
async def record(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep payload["seconds"], then count this run in the Redis list payload["key"]."""
    await asyncio.sleep(float(payload.get("seconds", 0)))
    client = sync_client(os.environ.get("REDIS_URL", payload.get("url", "")))
    try:
        client.rpush(payload["key"], f"{ctx.job_id}:{ctx.worker}:{ctx.attempt}")
    finally:
        client.close()
    return {"worker": ctx.worker, "attempt": ctx.attempt}


@tasks.task()
def sync_double(ctx: JobContext, payload: dict[str, Any]) -> int:
    """A plain function: runs in the worker's thread pool."""
    time.sleep(0.01)
    return int(payload["n"]) * 2


@tasks.task()
async def retry_later(ctx: JobContext, payload: dict[str, Any]) -> str:
    """Ask for one retry after payload["delay"] seconds, then succeed."""
    if ctx.failures == 0:
        raise Retry(delay=float(payload["delay"]))
    return "done"


@tasks.task()
async def unserializable(ctx: JobContext, payload: dict[str, Any]) -> object:
    return object()


@tasks.task()
async def hang(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Never finishes on its own."""
    await asyncio.sleep(3600)


@tasks.task(timeout_s=0.2)
async def slow_with_task_timeout(ctx: JobContext, payload: dict[str, Any]) -> None:
    await asyncio.sleep(5)


@tasks.task(isolated=True)
def spin(ctx: JobContext, payload: dict[str, Any]) -> None:
    """CPU-bound forever, in a child process; writes its pid to payload["key"] first."""
    client = sync_client(payload["url"])
    client.set(payload["key"], os.getpid())
    client.close()
    while True:
        pass


@tasks.task(isolated=True)
def isolated_double(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {"double": int(payload["n"]) * 2, "attempt": ctx.attempt}


@tasks.task()
async def halfway(ctx: JobContext, payload: dict[str, Any]) -> str:
    """Report 50 %, then wait payload["seconds"]."""
    await ctx.progress(50, "half way")
    await asyncio.sleep(float(payload.get("seconds", 0)))
    return "done"


@tasks.task()
def sync_progress(ctx: JobContext, payload: dict[str, Any]) -> str:
    ctx.progress_sync(30, "from a thread")
    time.sleep(float(payload.get("seconds", 0)))
    return "done"


@tasks.task()
async def mark_start(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Push payload["label"] to the Redis list payload["key"] as the job starts, then sleep
    payload["seconds"]; returns the label and the parents' results."""
    client = async_client(payload["url"])
    try:
        await client.rpush(payload["key"], payload["label"])
    finally:
        await client.aclose()
    await asyncio.sleep(float(payload.get("seconds", 0)))
    return {"label": payload["label"], "parents": ctx.parents}


@tasks.task()
async def occupy(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Count this job in the Redis counter payload["key"] for payload["seconds"]; every count
    reached is pushed to the list `<key>:seen` (its maximum: the most jobs running at once)."""
    client = async_client(payload["url"])
    try:
        now = await client.incr(payload["key"])
        await client.rpush(f"{payload['key']}:seen", now)
        await asyncio.sleep(float(payload.get("seconds", 0)))
        await client.decr(payload["key"])
    finally:
        await client.aclose()


@tasks.task()
async def whoami(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The job's id and its parents' ids as the handler sees them."""
    return {"job_id": ctx.job_id, "parents": sorted(ctx.parents)}


def _parse(text: str) -> int:
    return int(text)  # raises ValueError for "x": a frame of the handler's own code


@tasks.task()
async def broken(ctx: JobContext, payload: dict[str, Any]) -> int:
    return _parse(str(payload.get("text", "x")))


@tasks.task()
def broken_sync(ctx: JobContext, payload: dict[str, Any]) -> int:
    return _parse("x")


@tasks.task(isolated=True)
def broken_isolated(ctx: JobContext, payload: dict[str, Any]) -> int:
    return _parse("x")


@tasks.task(isolated=True)
def isolated_unserializable(ctx: JobContext, payload: dict[str, Any]) -> object:
    return {1, 2}


# Per-key ordering probes (in-process workers share this module): the order each key's jobs
# started in, and any key seen running two jobs at once.
KEY_STARTS: dict[str, list[int]] = {}
KEY_ACTIVE: dict[str, int] = {}
KEY_OVERLAPS: list[str] = []


@tasks.task()
async def keyed(ctx: JobContext, payload: dict[str, Any]) -> None:
    key, seq = str(payload["key"]), int(payload["seq"])
    if KEY_ACTIVE.get(key):
        KEY_OVERLAPS.append(key)
    KEY_ACTIVE[key] = KEY_ACTIVE.get(key, 0) + 1
    KEY_STARTS.setdefault(key, []).append(seq)
    try:
        await asyncio.sleep(float(payload.get("seconds", 0.002)))
        if payload.get("fail_first") and ctx.failures == 0:
            raise RuntimeError("first attempt fails")
    finally:
        KEY_ACTIVE[key] -= 1


class Email(BaseModel):
    to: str
    subject: str = "hi"


@tasks.task()
async def send_typed(ctx: JobContext, email: Email) -> str:
    return f"{email.to}:{email.subject}"


@tasks.task(queue="math")
def add(ctx: JobContext, a: int, b: int = 1) -> int:
    return a + b


@tasks.task()
async def logs(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Logs a line while it runs (inside its attempt's span when tracing is on); ids only."""
    logging.getLogger("tests.tasks").info("working job_id=%s attempt=%d", ctx.job_id, ctx.attempt)
