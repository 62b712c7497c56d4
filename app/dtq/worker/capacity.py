"""A worker process's job slots and threads for sync handlers, shared by its Workers when the
queue has several shards (one Worker per shard, see dtq.queue.shards)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from dtq.queue import Delivery


class Capacity:
    """The job slots and the threads for sync handlers of one worker process, shared by its
    Workers when the queue has several shards (one Worker per shard)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.freed = asyncio.Event()  # set whenever a slot frees
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dtq-sync")
        self._holders: list[dict[tuple[str, int, str], Delivery]] = []

    def hold(self, inflight: dict[tuple[str, int, str], Delivery]) -> None:
        """Count a Worker's in-flight jobs against the slots."""
        self._holders.append(inflight)

    def held(self) -> int:
        """Slots in use."""
        return sum(len(h) for h in self._holders)

    def free(self) -> int:
        """Slots free."""
        return self.size - self.held()

    def close(self) -> None:
        """Stop the threads (jobs still running in them are abandoned)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
