"""A worker process's job slots and threads for sync handlers, shared by its Workers when the
queue has several shards (one Worker per shard, see dtq.queue.shards)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from dtq.queue import Delivery


class Capacity:
    """The job slots and the threads for sync handlers of one worker process, shared by its
    Workers when the queue has several shards (one Worker per shard).

    A Worker reserves the free slots before it reads (so that two shards' reads cannot both
    fill the same slots) and gives back what it did not start; `shared` tells it to keep none
    while it waits for work (Consumer.wait claims nothing), so that an idle shard does not keep
    the slots from a busy one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.freed = asyncio.Event()  # set whenever a slot frees
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dtq-sync")
        self._holders: list[dict[tuple[str, int, str, str], Delivery]] = []
        self._reserved = 0

    @property
    def shared(self) -> bool:
        """Whether several Workers share the slots."""
        return len(self._holders) > 1

    def hold(self, inflight: dict[tuple[str, int, str, str], Delivery]) -> None:
        """Count a Worker's in-flight jobs against the slots."""
        self._holders.append(inflight)

    def held(self) -> int:
        """Slots in use."""
        return sum(len(h) for h in self._holders)

    def free(self) -> int:
        """Slots neither in use nor reserved."""
        return self.size - self.held() - self._reserved

    def reserve(self, count: int) -> int:
        """Reserve up to `count` free slots; how many were."""
        taken = max(0, min(count, self.free()))
        self._reserved += taken
        return taken

    def release(self, count: int) -> None:
        """Give back reserved slots (those started are held by now)."""
        self._reserved -= count
        if count:
            self.freed.set()

    def close(self) -> None:
        """Stop the threads (jobs still running in them are abandoned)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
