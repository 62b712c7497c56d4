"""Recurring schedules: definitions in Redis, next fire times on the Redis clock, and firing.

Any number of workers fire schedules; each tick runs exactly once because its job is submitted
with the idempotency key `schedule:<name>:<tick>` (a second firer gets the same job back) and
the next fire time only moves by compare-and-set.

Schedules belong to a tenant: names are the tenant's own (stored like job ids, see
tenant_ids), and their jobs are the tenant's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

import orjson
from croniter import CroniterBadDateError, croniter

from dtq.errors import ScheduleNotFoundError, TenantNotFoundError
from dtq.models import DEFAULT_TENANT, JobCreate, Misfire, Schedule, ScheduleCreate, ScheduleList
from dtq.queue.clock import from_ms, ms_of, redis_now_ms, to_ms
from dtq.queue.producer import Producer
from dtq.queue.scripts.library import Library
from dtq.queue.scripts.schedule_advance import schedule_advance
from dtq.queue.scripts.schedule_delete import schedule_delete
from dtq.queue.scripts.schedule_put import schedule_put
from dtq.queue.tenant_ids import stored_id, tenant_of
from dtq.queue.tenants import Tenants

logger = logging.getLogger(__name__)

# Under `skip`, the latest missed tick still runs if it is at most this late.
MISFIRE_GRACE_MS = 30_000
# Under `catch_up`, at most this many missed ticks run at once.
MAX_CATCH_UP = 1000


def busiest_hour_firings(cron: str) -> int:
    """How many times `cron` fires in its busiest hour: its minutes times its seconds."""
    fields = croniter(cron).expanded
    minutes = 60 if fields[0] == ["*"] else len(fields[0])
    seconds = 1 if len(fields) < 6 else 60 if fields[5] == ["*"] else len(fields[5])
    return minutes * seconds


def next_tick(cron: str, timezone: str, after_ms: int) -> int | None:
    """The first tick of `cron` (in `timezone`) strictly after `after_ms`, in ms; None for a
    cron that names no real date (e.g. February 30th), which never fires."""
    start = datetime.fromtimestamp(after_ms / 1000, ZoneInfo(timezone))
    try:
        return to_ms(croniter(cron, start).get_next(datetime))
    except CroniterBadDateError:
        return None


class Placed(NamedTuple):
    """Where a tenant's jobs go: the producer that submits them, the Tenants that holds its
    submission bucket, and the ids to give jobs without one (None: any)."""

    producer: Producer
    tenants: Tenants
    new_ids: Iterator[str] | None


class Schedules:
    """Create, read and delete schedules, and fire the due ones."""

    def __init__(self, lib: Library, producer: Producer, tenants: Tenants) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._tenants = tenants
        # Where a tenant's jobs are submitted (with the ids to give them, None: any) and its
        # rate limit taken: this shard, unless dtq.queue.shards places tenants on several.
        self.place: Callable[[str, Sequence[JobCreate]], Awaitable[Placed]] = self._here
        self._here_is = Placed(producer, tenants, None)

    async def _here(self, tenant: str, jobs: Sequence[JobCreate]) -> Placed:
        return self._here_is

    async def put(
        self,
        schedule: ScheduleCreate,
        tenant: str = DEFAULT_TENANT,
        most: int = -1,
        most_per_hour: int = -1,
    ) -> tuple[Schedule, bool]:
        """Create or replace a tenant's schedule; returns it and whether it was created.

        ScheduleLimitError when the tenant would have more than `most` schedules, or they would
        fire more than `most_per_hour` times in an hour, each at its busiest (negative: no
        limit). A
        cron that names no real date is stored with no `next_run_at`: it never fires.
        """
        due = next_tick(schedule.cron, schedule.timezone, await redis_now_ms(self._redis))
        created = await schedule_put(
            self._lib,
            schedule_id=stored_id(tenant, schedule.name),
            definition=schedule.model_dump_json(),
            next_fire_ms=due,
            per_hour=busiest_hour_firings(schedule.cron),
            most=most,
            most_per_hour=most_per_hour,
        )
        next_run = from_ms(due) if due is not None else None
        return Schedule(**schedule.model_dump(), next_run_at=next_run), bool(created)

    async def get(self, name: str, tenant: str = DEFAULT_TENANT) -> Schedule:
        """One of the tenant's schedules; ScheduleNotFoundError if it has none of that name."""
        stored = stored_id(tenant, name)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys.schedules, stored)
            pipe.zscore(self._keys.schedules_due, stored)
            definition, due = await pipe.execute()
        if definition is None:
            raise ScheduleNotFoundError(f"schedule {name!r} not found")
        return self._schedule(definition, due)

    async def list(self, tenant: str = DEFAULT_TENANT) -> ScheduleList:
        """Every schedule of the tenant, by name."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._keys.schedules)
            pipe.zrange(self._keys.schedules_due, 0, -1, withscores=True)
            definitions, dues = cast(
                tuple[dict[str, str], list[tuple[str, float]]], await pipe.execute()
            )
        due_by_id = dict(dues)
        data = [
            self._schedule(d, due_by_id.get(stored))
            for stored, d in sorted(definitions.items())
            if tenant_of(stored) == tenant
        ]
        return ScheduleList(data=data, count=len(data))

    async def delete(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a tenant's schedule; jobs it already submitted are not touched."""
        await schedule_delete(self._lib, schedule_id=stored_id(tenant, name), name=name)

    @staticmethod
    def _schedule(definition: str, due: Any) -> Schedule:
        return Schedule(**orjson.loads(definition), next_run_at=from_ms(due) if due else None)

    async def fire_due(self, limit: int = 20) -> int:
        """Submit the jobs of every due tick and move each schedule on; returns jobs submitted."""
        k = self._keys
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(k.schedules_due, 0, limit - 1, withscores=True)
            time_reply, candidates = await pipe.execute()
        now = ms_of(time_reply)
        fired = 0
        for stored, score in candidates:
            if score > now:
                break
            definition = await self._redis.hget(k.schedules, stored)
            if definition is not None:
                fired += await self._fire(
                    stored, ScheduleCreate.model_validate_json(definition), int(score), now
                )
        return fired

    async def _admitted(self, stored: str, name: str, cost: int) -> bool:
        """Whether the schedule's tenant may submit `cost` jobs now: a firing takes them from
        the tenant's rate limit like any submission (the default tenant has none). A refused
        firing is skipped, and logged."""
        tenant_name = tenant_of(stored)
        if tenant_name == DEFAULT_TENANT:
            return True
        try:
            tenant = await self._tenants.get(tenant_name)
        except TenantNotFoundError:
            logger.warning("schedule tick skipped name=%s: tenant %s is gone", name, tenant_name)
            return False
        admission = await (await self.place(tenant_name, [])).tenants.admit(tenant, cost)
        if not admission.admitted:
            logger.warning(
                "schedule tick skipped name=%s tenant=%s ticks=%d: over its rate limit",
                name,
                tenant_name,
                cost,
            )
        return admission.admitted

    async def _fire(self, stored: str, schedule: ScheduleCreate, due: int, now: int) -> int:
        ticks = [due]
        while len(ticks) < MAX_CATCH_UP:
            following = next_tick(schedule.cron, schedule.timezone, ticks[-1])
            if following is None or following > now:
                break
            ticks.append(following)
        # A cron that had a tick has one every year at least; None cannot happen here.
        upcoming = next_tick(schedule.cron, schedule.timezone, max(ticks[-1], now)) or due
        if schedule.misfire == Misfire.SKIP:
            ticks = [t for t in ticks[-1:] if now - t <= MISFIRE_GRACE_MS]
        if ticks and not await self._admitted(stored, schedule.name, len(ticks)):
            ticks = []
        if ticks:
            jobs = [
                JobCreate(
                    task_type=schedule.task_type,
                    payload=schedule.payload,
                    max_retries=schedule.max_retries,
                    priority=schedule.priority,
                    queue=schedule.queue,
                    idempotency_key=f"schedule:{schedule.name}:{tick}",
                )
                for tick in ticks
            ]
            placed = await self.place(tenant_of(stored), jobs)
            await placed.producer.submit_many(jobs, tenant_of(stored), placed.new_ids)
        advanced = await schedule_advance(
            self._lib, schedule_id=stored, fired_ms=due, next_ms=upcoming
        )
        if advanced and len(ticks) > 1:
            logger.info("schedule caught up name=%s ticks=%d", schedule.name, len(ticks))
        return len(ticks) if advanced else 0
