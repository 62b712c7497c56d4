"""Leases and heartbeats: keep running jobs owned while this worker lives, and say it lives."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable

import orjson

from dtq.queue import Consumer, Delivery, Engine, is_redis_failure, repeat

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
        inflight: dict[tuple[str, int, str, str], Delivery],
        concurrency: int,
        task_types: list[str],
        queues: list[str],
        on_renewed: Callable[[int, float], None] | None = None,
    ) -> None:
        self._engine = engine
        self._task_types = ",".join(task_types)
        self._queues = ",".join(queues)
        self._consumer = consumer
        self._inflight = inflight
        self._concurrency = concurrency
        self._next_beat = 0.0
        self._due = 0.0
        self._on_renewed = on_renewed
        self.lost = 0

    async def heartbeat(self) -> None:
        """Mark this worker alive for three heartbeat intervals."""
        info: dict[str, str | int] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": self._concurrency,
            "inflight": len(self._inflight),
            "clock_ms": int(time.time() * 1000),  # the worker's own clock, to spot skew
            "tasks": self._task_types,
            "queues": self._queues,
            # Its jobs per tenant: what an uncapped tenant's `running` adds up (it takes no slot).
            "tenants": orjson.dumps(Counter(d.tenant for d in self._inflight.values())).decode(),
        }
        await self._engine.heartbeat(self._consumer.name, info)

    async def extend(self) -> None:
        """Extend the lease of every in-flight job; log the ones another worker took over."""
        held = list(self._inflight.values())
        for i in range(0, len(held), LEASE_BATCH):
            batch = held[i : i + LEASE_BATCH]
            kept = await self._consumer.extend_leases(batch)
            for d, ok in zip(batch, kept, strict=True):
                if not ok and d.key in self._inflight:
                    self.lost += 1
                    logger.warning(
                        "lease lost: another worker took the job over job_id=%s attempt=%d",
                        d.public_id,
                        d.attempt,
                    )

    async def _turn(self) -> float:
        """Extend leases, and heartbeat when one is due; the seconds until the next turn."""
        s = self._engine.settings
        began = asyncio.get_running_loop().time()
        await self.extend()
        if self._on_renewed:
            self._on_renewed(len(self._inflight), began - self._due if self._due else 0.0)
        now = asyncio.get_running_loop().time()
        if now >= self._next_beat:
            self._next_beat = now + s.HEARTBEAT_INTERVAL_S
            await self.heartbeat()
        wait = min(s.lease_interval_s, s.HEARTBEAT_INTERVAL_S)
        self._due = now + wait
        return wait

    async def run(self) -> None:
        """Extend leases and heartbeat until cancelled (the first turn waits one interval)."""
        s = self._engine.settings
        self._next_beat = asyncio.get_running_loop().time() + s.HEARTBEAT_INTERVAL_S
        await asyncio.sleep(min(s.lease_interval_s, s.HEARTBEAT_INTERVAL_S))
        await repeat("lease renewal", self._turn)

    async def forget(self) -> None:
        """Leave the set of live workers."""
        try:
            await self._engine.forget_worker(self._consumer.name)
        except Exception as exc:
            if not is_redis_failure(exc):
                raise
            logger.warning("could not deregister worker error=%s", exc)
