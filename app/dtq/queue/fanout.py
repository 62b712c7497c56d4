"""Fan-out over shards: run one awaitable per shard at once, and let none outlive the caller.

`asyncio.gather` returns (or raises) as soon as one awaitable fails or is canceled, leaving the
others running on their own. A call still running after its caller has ended reaches Redis
after the client was closed: it opens a new connection that nobody closes (the socket the
cluster test passes saw the garbage collector close, now and then), and a write to one
shard may land after the caller has reported that another failed. `gather_all` waits for
every call first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Their results, in order. When one fails, the others still run to their end, then the
    first failure (in order) is raised; when the caller is canceled, they are canceled and
    awaited. Either way nothing started here runs on after it returns."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    # exception() on every failed task (none is left unretrieved), then the first one raised
    failed = [t for t in tasks if t.cancelled() or t.exception() is not None]
    if failed:
        failed[0].result()
    return [t.result() for t in tasks]
