"""One worker process's Workers: one per shard (see dtq.queue.shards), sharing its job slots,
its threads for sync handlers and its metrics, stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dtq.queue import Settled, Shards
from dtq.worker.capacity import Capacity
from dtq.worker.metrics import WorkerMetrics
from dtq.worker.registry import TaskRegistry
from dtq.worker.runner import Worker, default_worker_name


class WorkerGroup:
    """A Worker on every shard under one name, running up to `concurrency` jobs in all."""

    def __init__(
        self,
        shards: Shards,
        registry: TaskRegistry,
        *,
        concurrency: int | None = None,
        name: str | None = None,
        queues: Sequence[str] | None = None,
        weights: Sequence[int] | None = None,
    ) -> None:
        settings = shards.settings
        self.name = name or default_worker_name()
        self.capacity = Capacity(concurrency or settings.WORKER_CONCURRENCY)
        self.metrics = WorkerMetrics(enabled=settings.WORKER_METRICS_PORT > 0)
        self.workers = [
            Worker(
                engine,
                registry,
                name=self.name,
                queues=queues,
                weights=weights,
                capacity=self.capacity,
                metrics=self.metrics,
            )
            for engine in shards.engines
        ]

    @property
    def totals(self) -> Settled:
        """What the Workers settled, added up."""
        total = Settled()
        for w in self.workers:
            total.completed += w.totals.completed
            total.retried += w.totals.retried
            total.dead += w.totals.dead
            total.stale += w.totals.stale
        return total

    def stop(self) -> None:
        """Stop taking new jobs on every shard; run() returns once each has drained."""
        for w in self.workers:
            w.stop()

    async def run(self) -> None:
        """Run every shard's Worker until stop(); one that fails stops them all (the process
        exits non-zero and its jobs are reclaimed)."""
        try:
            async with asyncio.TaskGroup() as tg:
                for w in self.workers:
                    tg.create_task(w.run(), name=f"shard {w.engine.keys.shard}")
        finally:
            self.capacity.close()
