"""A job index: one tenant's job ids on one shard, ordered by creation, in count-bounded buckets.

An index named `I` (keys.py's Keys.index, Keys.tenant_index) is stored as:

    I#<n>   bucket n (from 1): a zset of at most 128 ids (_lib.lua's INDEX_BUCKET), each
            scored by its creation sequence (µs, unique and increasing over the shard)
            negated. Redis keeps a zset that small as one listpack: ~48 bytes an id, against
            ~145 in one large zset (skiplist). It inserts into a listpack after a scan from
            the head, so the newest id, with the lowest score, goes in at once (a ZADD of a
            batch of ids in increasing order cost ~30,000 instructions an id more, measured).
    I#      the directory: a zset of bucket numbers, each scored by its bucket's first score.
    I       the zset that held every id before buckets (until 2026-11-28): read, and pruned,
            while it still holds jobs; nothing is added to it any more.

enqueue.lua appends to the newest bucket and records the bucket in the job's hash (`ix`);
_lib.lua's remove_jobs takes removed jobs out. An entry whose job is gone (expired, purged) or
was created anew under the same id (its hash names another bucket) is stale: readers skip it
and drop it (drop), as housekeeping does over the oldest ones (prune).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from dtq.queue.keys import index_bucket, index_directory
from dtq.queue.scripts.index_drop import index_drop
from dtq.queue.scripts.library import Library

# Buckets read per round trip while collecting a page.
_BUCKETS_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class Entry:
    """One id in an index: its score (creation sequence, µs) and its bucket ('': the index's
    zset from before buckets)."""

    job_id: str
    score: int
    bucket: str

    def indexes(self, h: dict[str, str]) -> bool:
        """Whether this entry stands for the job whose hash is `h` (empty: the job is gone):
        the hash names this entry's bucket."""
        return current(self, h.get("status"), h.get("ix"))


def current(entry: Entry, status: str | None, ix: str | None) -> bool:
    """Whether `entry` stands for its job, from the job hash's `status` (None: no hash) and
    `ix` fields: the job exists and its hash names the entry's bucket."""
    return status is not None and (ix or "") == entry.bucket


def _bound(score: str | float) -> float:
    """A ZRANGE score bound ("(123", "-inf", 123) as a number."""
    return float(score.lstrip("(")) if isinstance(score, str) else float(score)


def _negated(score: str | float) -> str:
    """A ZRANGE score bound for a bucket's negated scores: "(123" -> "(-123", "+inf" -> "-inf"."""
    text = str(score)
    exclusive = "(" if text.startswith("(") else ""
    number = -float(text.lstrip("("))
    return exclusive + (str(int(number)) if number.is_integer() else repr(number))


async def newest(
    redis: Redis, index: str, top: str | float, bottom: str | float, count: int
) -> list[Entry]:
    """Up to `count` entries of an index scored within [bottom, top] (ZRANGE bounds: "(123" is
    exclusive, "+inf" and "-inf" open), highest score first."""

    def directory_page(client: Any, offset: int) -> Any:  # queued on a pipeline, or awaited
        return client.zrange(
            index_directory(index), top, "-inf", desc=True, byscore=True, offset=offset,
            num=_BUCKETS_AT_ONCE, withscores=True,
        )  # fmt: skip

    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrange(
            index, top, bottom, desc=True, byscore=True, offset=0, num=count, withscores=True
        )
        directory_page(pipe, 0)
        legacy, buckets = await pipe.execute()
    found = [Entry(job_id, int(score), "") for job_id, score in legacy]
    in_buckets = 0
    offset = 0
    floor = _bound(bottom)
    while buckets and in_buckets < count:
        offset += len(buckets)
        async with redis.pipeline(transaction=False) as pipe:
            for bucket, _ in buckets:
                pipe.zrange(
                    index_bucket(index, bucket), _negated(top), _negated(bottom), byscore=True,
                    offset=0, num=count, withscores=True,
                )  # fmt: skip
            pages = await pipe.execute()
        for (bucket, first), page in zip(buckets, pages, strict=True):
            found.extend(Entry(job_id, -int(score), bucket) for job_id, score in page)
            in_buckets += len(page)
            if first <= floor or in_buckets >= count:
                break
        if buckets[-1][1] <= floor or in_buckets >= count:
            break
        buckets = await directory_page(redis, offset)
    found.sort(key=lambda e: e.score, reverse=True)
    return found[:count]


async def entries(redis: Redis, index: str) -> AsyncIterator[Entry]:
    """Every entry of an index, newest first, a page at a time."""
    top: str | float = "+inf"
    while page := await newest(redis, index, top, "-inf", 1000):
        for entry in page:
            yield entry
        top = f"({page[-1].score}"


async def job_ids(redis: Redis, index: str) -> list[str]:
    """Every id an index holds (stale ones included), oldest first."""
    return [entry.job_id async for entry in entries(redis, index)][::-1]


async def count(redis: Redis, index: str) -> int:
    """How many entries an index holds (stale ones included)."""
    buckets = cast(list[str], await redis.zrange(index_directory(index), 0, -1))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(index)
        for bucket in buckets:
            pipe.zcard(index_bucket(index, bucket))
        return sum(await pipe.execute())


async def _drop_from(lib: Library, index: str, bucket: str, job_ids: list[str]) -> None:
    """index_drop.lua on one bucket: its `job_ids` out, the bucket out of the directory if
    it is left empty (no ids: only that)."""
    await index_drop(
        lib, bucket=index_bucket(index, bucket), directory=index_directory(index), number=bucket,
        job_ids=job_ids,
    )  # fmt: skip


async def drop(lib: Library, index: str, stale: Iterable[Entry]) -> None:
    """Take stale entries out of an index (an emptied bucket leaves the directory)."""
    by_bucket: dict[str, list[str]] = defaultdict(list)
    for entry in stale:
        by_bucket[entry.bucket].append(entry.job_id)
    for bucket, ids in by_bucket.items():
        if bucket:
            await _drop_from(lib, index, bucket, ids)
        else:
            await lib.redis.zrem(index, *ids)


async def prune(lib: Library, index: str, scan: int) -> int:
    """Drop the stale entries among about the `scan` oldest of an index (old jobs expire first),
    and the directory's entries of buckets gone empty; how many entries went."""
    redis = lib.redis
    legacy = cast(list[str], await redis.zrange(index, 0, scan - 1))
    oldest = [Entry(job_id, 0, "") for job_id in legacy]
    offset = 0
    while len(oldest) < scan:
        buckets = cast(list[str], await redis.zrange(index_directory(index), offset, offset + 7))
        if not buckets:
            break
        offset += len(buckets)
        async with redis.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                pipe.zrange(index_bucket(index, bucket), 0, -1)
            pages = await pipe.execute()
        for bucket, page in zip(buckets, pages, strict=True):
            oldest.extend(Entry(job_id, 0, bucket) for job_id in page)
            if not page:  # emptied by a plain ZREM, or lost its last id to a removal
                await _drop_from(lib, index, bucket, [])
                offset -= 1
    async with redis.pipeline(transaction=False) as pipe:
        for entry in oldest:
            pipe.hmget(lib.keys.job(entry.job_id), ["status", "ix"])
        rows = await pipe.execute()
    stale = [e for e, (status, ix) in zip(oldest, rows, strict=True) if not current(e, status, ix)]
    await drop(lib, index, stale)
    return len(stale)
