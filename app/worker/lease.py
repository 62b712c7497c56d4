"""Leases and heartbeats: keep running jobs owned while this worker lives, and say it lives."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from redis.exceptions import RedisError

from app.queue import Consumer, Delivery, Engine
from app.queue.liveness import forget, heartbeat
from app.worker.cancellation import raise_if_cancelling

logger = logging.getLogger(__name__)

LEASE_BATCH = 1000


class LeaseKeeper:
    """Extends the leases of in-flight jobs well inside the visibility timeout and heartbeats.

    A worker that is frozen (SIGSTOP) or cut off stops extending, so its jobs become idle and
    another worker reclaims them; its late completions are then refused by fencing.
    """

    def __init__(
        self,
        engine: Engine,
        consumer: Consumer,
        inflight: dict[tuple[int, str], Delivery],
        concurrency: int,
        task_types: list[str],
    ) -> None:
        self._engine = engine
        self._task_types = ",".join(task_types)
        self._consumer = consumer
        self._inflight = inflight
        self._concurrency = concurrency
        self.lost = 0

    async def heartbeat(self) -> None:
        """Mark this worker alive for three heartbeat intervals."""
        e = self._engine
        ttl = max(int(e.settings.HEARTBEAT_INTERVAL_S * 3), 1)
        info: dict[str, str | int] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": self._concurrency,
            "inflight": len(self._inflight),
            "clock_ms": int(time.time() * 1000),  # the worker's own clock, to spot skew
            "tasks": self._task_types,
        }
        await heartbeat(e.redis, e.keys, e.scripts, self._consumer.name, ttl, info)

    async def extend(self) -> None:
        """Extend the lease of every in-flight job; log the ones another worker took over."""
        held = list(self._inflight.values())
        for i in range(0, len(held), LEASE_BATCH):
            batch = held[i : i + LEASE_BATCH]
            kept = await self._consumer.extend_leases(batch)
            for d, ok in zip(batch, kept, strict=True):
                if not ok and d.entry in self._inflight:
                    self.lost += 1
                    logger.warning("lease lost job_id=%s attempt=%d", d.job_id, d.attempt)

    async def run(self) -> None:
        """Extend leases and heartbeat until cancelled."""
        s = self._engine.settings
        lease_every = s.lease_interval_s
        beat_every = s.HEARTBEAT_INTERVAL_S
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + beat_every
        while True:
            await asyncio.sleep(min(lease_every, beat_every))
            raise_if_cancelling()
            try:
                await self.extend()
                if loop.time() >= next_beat:
                    next_beat = loop.time() + beat_every
                    await self.heartbeat()
            except RedisError as exc:
                raise_if_cancelling()
                logger.warning("lease renewal failed error=%s", exc)

    async def forget(self) -> None:
        """Leave the set of live workers."""
        e = self._engine
        try:
            await forget(e.redis, e.keys, self._consumer.name)
        except RedisError as exc:
            logger.warning("could not deregister worker error=%s", exc)
