"""One tenant's place among the shards: its own shard, or (spread) every shard by job id.

A tenant kept on one shard (the default, see dtq.queue.shards) has all its jobs there. A
spread tenant (created with `spread`, or `default` with SPREAD_DEFAULT) has each job on the
shard its id hashes to (CRC-32 of the id, modulo the number of shards it was spread over: the
SHARDS of then, fixed, so an id or key keeps its shard when SHARDS grows), so finding a job by
id costs one round trip and a chosen id is unique in one script, as on one shard. What must be
atomic shares a shard:

- a job submitted without an id gets a new one that hashes to the shard it must live on: its
  parents' (depends_on) and its partition key's hash (one key's jobs run in order on one
  shard), else its idempotency key's hash (a retry meets the key's record), else any;
- a batch goes to one shard, whole: its external parents' and partition keys', else its first
  chosen id's, else its first idempotency key's hash, else a random one; a chosen id, parent or
  partition key that belongs elsewhere is a 422 (`shard_placement`): submit such jobs apart.

Its submission bucket stays on the control shard (one admission round trip before the
enqueue); its concurrency cap is split evenly over the shards (read.lua); its listings and
dead-letter queue merge the shards' pages, newest first. A job a handler submitted (it stays
on the worker's shard) is looked for on its id's shard first, then on every other.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from itertools import product
from typing import Any, TypeVar

from dtq.errors import (
    JobNotFoundError,
    JobRemovedError,
    ResultNotReadyError,
    ShardPlacementError,
)
from dtq.models import (
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
    DeadReason,
    JobCreate,
    JobList,
    JobStatus,
    Tenant,
    TenantUsage,
)
from dtq.queue.engine import Engine
from dtq.queue.fanout import gather_all
from dtq.queue.job_ids import ALPHABET, ID_LENGTH, random_text
from dtq.queue.page import Page
from dtq.queue.producer import parents_first
from dtq.queue.tenant_ids import stored_id

T = TypeVar("T")


def id_shard(text: str, count: int) -> int:
    """The shard a spread tenant's job id (or idempotency key) hashes to."""
    return zlib.crc32(text.encode()) % count


def ids_on(shard: int, count: int) -> Iterator[str]:
    """New random job ids (as long as new_job_id's: a random stem and a counted suffix) that
    hash to `shard`."""
    stem = ID_LENGTH - 3  # 62 ** 3 suffixes to a stem: any shard of up to thousands has some
    while True:
        base = random_text(stem)
        for suffix in product(ALPHABET, repeat=ID_LENGTH - stem):
            candidate = base + "".join(suffix)
            if zlib.crc32(candidate.encode()) % count == shard:
                yield candidate


def merge(pages: Sequence[Page[T]], limit: int) -> tuple[list[T], tuple[Any, int] | None]:
    """Pages of one listing from every shard (pages[i] from shard i) as one page, newest
    first, ties between shards in shard order (higher first): the items and where the next page
    starts, as (key, shard): below the key on shards from `shard` up, at it on the lower ones
    (None: nothing older anywhere).

    A shard that stopped early (limit or scan budget) examined nothing below its `last`, so
    only items at or above the highest such key are certain to be in order."""
    frontier = max((p.last for p in pages if p.last is not None), default=None)
    items = [
        (key, shard, item)
        for shard, p in enumerate(pages)
        for key, item in p.items
        if frontier is None or key >= frontier
    ]
    items.sort(key=lambda x: (x[0], x[1]), reverse=True)
    taken = items[:limit]
    if len(taken) == limit and taken:
        return [item for _, _, item in taken], (taken[-1][0], taken[-1][1])
    return [item for _, _, item in taken], None if frontier is None else (frontier, 0)


def total_usage(usages: Sequence[TenantUsage]) -> TenantUsage:
    """One tenant's usage on several shards as one: its limits, the load added up."""
    return usages[0].model_copy(
        update={
            "queued": sum(u.queued for u in usages),
            "running": sum(u.running for u in usages),
        }
    )


def split_cursor(cursor: str | None) -> tuple[str | None, int]:
    """A merged listing's cursor as (the key's text, the shard): `<key>` or `<key>.<shard>`."""
    if cursor is None:
        return None, 0
    key, _, shard = cursor.partition(".")
    return key, int(shard or 0)


def cursor_text(key: str, shard: int) -> str:
    """The cursor of (key, shard) as split_cursor reads it."""
    return f"{key}.{shard}" if shard else key


class TenantShards:
    """Where one tenant's jobs are: `engines` (its one shard's, or every shard's when spread)
    and `home`, where its submission bucket lives."""

    def __init__(self, tenant: Tenant, engines: Sequence[Engine], home: Engine) -> None:
        self.tenant = tenant
        self.engines = tuple(engines)
        self.home = home
        self.spread = len(self.engines) > 1

    # --- finding a job ------------------------------------------------------------------

    def by_id(self, job_id: str) -> Engine:
        """The engine of the shard a job id belongs on."""
        if not self.spread:
            return self.home
        return self.engines[id_shard(job_id, len(self.engines))]

    async def on_job(self, job_id: str, work: Callable[[Engine], Awaitable[T]]) -> T:
        """`work` on the engine of the shard holding the job: where its id hashes to, else
        (a handler submitted it where it ran) wherever it is. `work` must
        change nothing before it raises JobNotFoundError."""
        first = self.by_id(job_id)
        try:
            return await work(first)
        except (JobRemovedError, ResultNotReadyError):
            raise
        except JobNotFoundError:
            if not self.spread:
                raise
            found = await self._where(job_id, skip=first)
            if found is None:
                raise
            return await work(found)

    async def _where(self, job_id: str, skip: Engine) -> Engine | None:
        """The engine of another shard holding the job (or its retention tombstone)."""
        stored = stored_id(self.tenant.name, job_id)
        others = [e for e in self.engines if e is not skip]

        async def holds(engine: Engine) -> bool:
            async with engine.redis.pipeline(transaction=False) as pipe:
                pipe.exists(engine.keys.job(stored))
                pipe.zscore(engine.keys.gone, stored)
                exists, removed = await pipe.execute()
            return bool(exists) or removed is not None

        found = await gather_all(holds(e) for e in others)
        return next((e for e, yes in zip(others, found, strict=True) if yes), None)

    async def _shard_of_parent(self, parent: str) -> int:
        engine = self.by_id(parent)
        if not await engine.redis.exists(engine.keys.job(stored_id(self.tenant.name, parent))):
            engine = await self._where(parent, skip=engine) or engine
        return self.engines.index(engine)

    # --- placing new jobs ---------------------------------------------------------------

    async def _anchors(self, jobs: Sequence[JobCreate], along: set[str]) -> set[int]:
        """The shard (a set of none or one) that jobs must go to: their partition keys' (one
        key's jobs run in order on one shard) and their parents' (other than those in
        `along`, submitted with them); ShardPlacementError when they name several."""
        count = len(self.engines)
        keys = {j.partition_key for j in jobs if j.partition_key}
        parents = sorted({p for j in jobs for p in j.depends_on if p not in along})
        anchors = {id_shard(k, count) for k in keys}
        anchors |= set(await gather_all(self._shard_of_parent(p) for p in parents))
        if len(anchors) > 1:
            raise ShardPlacementError(
                "these jobs' parents and partition keys belong on different shards (the tenant "
                "is spread, and a job lives on its parents' shard and its partition key's): "
                "submit them in smaller groups"
            )
        return anchors

    async def place(self, job: JobCreate) -> tuple[Engine, str | None]:
        """The engine to submit one job on, and the id to give it if it has none (None: any)."""
        if not self.spread:
            return self.home, None
        count = len(self.engines)
        anchors = await self._anchors([job], set())
        if anchors:
            shard = anchors.pop()
        elif job.id:
            shard = id_shard(job.id, count)
        elif job.idempotency_key:
            shard = id_shard(job.idempotency_key, count)
        else:
            shard = random.randrange(count)
        if job.id:
            if id_shard(job.id, count) != shard:
                raise ShardPlacementError(
                    f"job id {job.id} belongs on another shard than its parents or partition key "
                    "(the tenant is spread): leave the id out"
                )
            return self.engines[shard], None
        return self.engines[shard], next(ids_on(shard, count))

    def groups(self, jobs: Sequence[JobCreate]) -> list[list[JobCreate]]:
        """Jobs without ids or parents as groups that can each go to one shard (by partition
        key; one group when the tenant is not spread), for tools that need no atomicity."""
        if not self.spread:
            return [list(jobs)]
        count = len(self.engines)
        by_shard: dict[int, list[JobCreate]] = {}
        loose: list[JobCreate] = []
        for job in jobs:
            if job.partition_key:
                by_shard.setdefault(id_shard(job.partition_key, count), []).append(job)
            else:
                loose.append(job)
        return [group for group in (*by_shard.values(), loose) if group]

    async def place_many(self, jobs: Sequence[JobCreate]) -> tuple[Engine, Iterator[str] | None]:
        """The engine to submit a batch on (whole, all or nothing), and the ids to give the
        jobs that have none (None: any)."""
        if not self.spread:
            return self.home, None
        count = len(self.engines)
        chosen = [j.id for j in jobs if j.id]
        if any(j.depends_on for j in jobs):  # a cycle is the clearer refusal
            parents_first([j.id or "" for j in jobs], jobs)
        anchors = await self._anchors(jobs, set(chosen))
        keys = [j.idempotency_key for j in jobs if j.idempotency_key]
        if anchors:
            shard = anchors.pop()
        elif chosen:
            shard = id_shard(chosen[0], count)
        elif keys:
            shard = id_shard(keys[0], count)
        else:
            shard = random.randrange(count)
        elsewhere = [i for i in chosen if id_shard(i, count) != shard]
        if elsewhere:
            raise ShardPlacementError(
                f"chosen ids {', '.join(elsewhere[:5])} belong on another shard than the rest "
                "of the batch (the tenant is spread, a batch lives on one shard): leave the "
                "ids out, or submit those jobs one by one"
            )
        return self.engines[shard], ids_on(shard, count)

    # --- listings over the shards -------------------------------------------------------

    async def list_jobs(
        self,
        status: JobStatus | None,
        task_type: str | None,
        cursor: str | None,
        limit: int,
        queue: str | None = None,
        priority: str | None = None,
        created: tuple[int | None, int | None] = (None, None),
    ) -> JobList:
        """The tenant's jobs, newest first (see Jobs.list), over its shards."""
        name = self.tenant.name
        key, at = split_cursor(cursor)
        if not self.spread:
            return await self.home.jobs.list(
                status, task_type, key, limit, name, queue, priority, created
            )
        pages = await gather_all(
            e.jobs.page(status, task_type, key, limit, name, queue, priority, created, shard < at)
            for shard, e in enumerate(self.engines)
        )
        data, last = merge(pages, limit)
        following = None if last is None else cursor_text(str(last[0]), last[1])
        return JobList(data=data, count=len(data), next_cursor=following)

    async def find_by_idempotency_key(self, key: str) -> JobList:
        """The tenant's job submitted with this idempotency key (see Jobs)."""
        found = await gather_all(
            e.jobs.find_by_idempotency_key(key, self.tenant.name) for e in self.engines
        )
        return next((f for f in found if f.data), found[0])

    async def list_dead(
        self,
        cursor: str | None,
        limit: int,
        task_type: str | None = None,
        reason: DeadReason | None = None,
    ) -> DeadLetterList:
        """The tenant's dead jobs, newest first (see DeadLetters.list), over its shards."""
        name = self.tenant.name
        key, at = split_cursor(cursor)
        if not self.spread:
            return await self.home.dlq.list(key, limit, name, task_type, reason)
        pages = await gather_all(
            e.dlq.page(key, limit, name, task_type, reason, shard < at)
            for shard, e in enumerate(self.engines)
        )
        data, last = merge(pages, limit)
        following = None if last is None else cursor_text(f"{last[0][0]}-{last[0][1]}", last[1])
        return DeadLetterList(data=data, count=len(data), next_cursor=following)

    async def retry_dead_matching(
        self, ask: DeadLetterRetry, admit: Callable[[int], Awaitable[None]]
    ) -> DeadLetterRetried:
        """Send the tenant's dead jobs matching the filter back (see DeadLetters), up to
        `ask.limit` over its shards. Spread, the matches are counted on every shard first and
        `admit` takes them all at once, so a refusal leaves every shard as it was."""
        name = self.tenant.name
        if not self.spread:
            return await self.home.dlq.retry_matching(ask, name, admit)
        dry = ask.model_copy(update={"dry_run": True})
        counted = await gather_all(e.dlq.retry_matching(dry, name) for e in self.engines)
        shares, left = [], ask.limit
        for found in counted:
            shares.append(min(found.matched, left))
            left -= shares[-1]
        if ask.dry_run or not sum(shares):
            done = [
                c.model_copy(update={"matched": n}) for c, n in zip(counted, shares, strict=True)
            ]
        else:
            await admit(sum(shares))
            done = [
                await e.dlq.retry_matching(ask.model_copy(update={"limit": n}), name)
                for e, n in zip(self.engines, shares, strict=True)
                if n
            ]
        return DeadLetterRetried(
            matched=sum(d.matched for d in done),
            retried=sum(d.retried for d in done),
            dry_run=ask.dry_run,
            job_ids=[j for d in done for j in d.job_ids[: d.matched]][:1000],
        )

    async def usage(self) -> TenantUsage:
        """The tenant's limits and load (see Tenants.usage), over its shards."""
        return total_usage(await gather_all(e.tenants.usage(self.tenant) for e in self.engines))
