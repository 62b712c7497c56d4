"""The engine: one object holding the queue's parts for one Redis client and settings, and the
upkeep every worker runs (promotion of due jobs, schedules, sweeps, trimming, housekeeping,
heartbeats, the cancel feed)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import cast

from redis.asyncio import Redis

from dtq.config import Settings
from dtq.models import DEFAULT_QUEUE
from dtq.queue.clock import ms_of
from dtq.queue.consumer import Consumer
from dtq.queue.dependencies import Dependencies, Released
from dtq.queue.dlq import DeadLetters
from dtq.queue.events import Events
from dtq.queue.history import StatsHistory
from dtq.queue.housekeeping import HousekeepingReport, housekeep
from dtq.queue.jobs import Jobs
from dtq.queue.keys import Keys
from dtq.queue.producer import Producer
from dtq.queue.queues import Queues
from dtq.queue.reader import ensure_group
from dtq.queue.resilience import raise_if_cancelling
from dtq.queue.retention import Retention
from dtq.queue.schedules import Schedules
from dtq.queue.scripts.library import Library, run_all
from dtq.queue.scripts.promote_due import promote_due
from dtq.queue.scripts.trim import trim
from dtq.queue.stats import Stats
from dtq.queue.tenants import Tenants
from dtq.queue.workers import Workers

# Scheduled jobs one promote_due() looks at.
PROMOTE_BATCH = 500


class Engine:
    """Producer, jobs, DLQ, stats, queues, dependencies, schedules, tenants, workers and
    consumers of one shard (`shard`: its hash tag, default SHARD)."""

    def __init__(self, redis: Redis, settings: Settings, shard: str | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.from_settings(settings, shard)
        self.lib = Library(redis, self.keys, settings)  # the scripts, for their faces
        self.workers = Workers(self.lib)
        self.dependencies = Dependencies(self.lib)
        self.producer = Producer(self.lib)
        self.jobs = Jobs(self.lib, self.workers, self.dependencies)
        self.dlq = DeadLetters(self.lib, self.jobs)
        self.stats = Stats(self.lib, self.workers)
        self.tenants = Tenants(self.lib)
        self.schedules = Schedules(self.lib, self.producer, self.tenants)
        self.queues = Queues(self.lib, self.workers)
        self.retention = Retention(self.lib)
        self.events = Events(self.lib)
        self.history = StatsHistory(self.lib, self.queues)

    async def setup(self, queues: Sequence[str] = (DEFAULT_QUEUE,)) -> None:
        """Load the scripts and make sure the streams of `queues` and their consumer groups
        exist."""
        await self.lib.load()
        await ensure_group(self.lib, queues)

    async def load_scripts(self) -> None:
        """Load the scripts only (for tools that read and write no streams)."""
        await self.lib.load()

    async def scripts_loaded(self) -> bool:
        """True when the server's script cache holds every script."""
        return await self.lib.loaded()

    def consumer(
        self,
        name: str,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        *,
        weights: Sequence[int] | None = None,
        serves: Collection[str] = (),
    ) -> Consumer:
        """A consumer under a unique name, of `queues` (see Consumer), running `serves` (the
        task types it has handlers for; empty: any)."""
        return Consumer(self.lib, name, queues, weights=weights, serves=serves)

    # --- upkeep, run by every worker ----------------------------------------------------

    async def promote_due(self, limit: int = PROMOTE_BATCH) -> tuple[int, int | None]:
        """Move due scheduled jobs to their streams (or lanes).

        Returns how many were promoted and, when jobs remain scheduled, the milliseconds until
        the earliest of them is due (by the Redis clock; 0 when more are due already).
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.time()
            pipe.zrange(self.keys.delayed, 0, limit - 1, withscores=True)
            time_reply, candidates = cast(
                tuple[list[int], list[tuple[str, float]]], await pipe.execute()
            )
        now = ms_of(time_reply)
        due = [job_id for job_id, score in candidates if score <= now]
        promoted = await promote_due(self.lib, job_ids=due) if due else 0
        if len(due) == limit:
            return promoted, 0
        later = [score for _, score in candidates if score > now]
        return promoted, (int(later[0] - now) if later else None)

    async def fire_schedules(self) -> int:
        """Submit the jobs of every due schedule tick; returns how many were submitted."""
        return await self.schedules.fire_due()

    async def sweep_dependencies(self) -> Released:
        """Release the dependents of parents left in the outbox (their finisher died)."""
        return await self.dependencies.sweep()

    async def trim(self) -> int:
        """Trim acknowledged entries from every queue's job streams (never a pending or
        undelivered one)."""
        calls = [trim(self.lib, queue=self.keys.queue(q)) for q in await self.queues.names()]
        return sum(await run_all(self.redis, calls))

    async def housekeep(self) -> HousekeepingReport | None:
        """One round of housekeeping, unless another worker is running one."""
        return await housekeep(self.lib, self.workers, await self.queues.names())

    async def heartbeat(self, worker: str, info: Mapping[str, str | int]) -> int:
        """Mark a worker alive (see Workers.heartbeat); returns the Redis time in ms."""
        return await self.workers.heartbeat(worker, info)

    async def forget_worker(self, worker: str) -> None:
        """Remove a stopping worker from the live set."""
        await self.workers.forget(worker)

    async def listen_for_cancels(self, on_cancel: Callable[[str], None]) -> None:
        """Call `on_cancel(stored job id)` for each running job canceled, until the connection
        fails (raises RedisError) or the task is cancelled."""
        async with self.redis.pubsub() as pubsub:
            await pubsub.subscribe(self.keys.cancel_channel)
            while True:
                raise_if_cancelling()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    on_cancel(str(message["data"]))
