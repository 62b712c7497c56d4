"""Fan-out over shards: run one awaitable per shard at once, and let none outlive the caller.

`asyncio.gather` returns (or raises) as soon as one awaitable fails or is canceled, leaving the
others running on their own. A call still running after its caller has ended reaches Redis
after the client was closed: it opens a new connection that nobody closes (the socket a cluster
test pass saw the garbage collector close, sessions 14 to 21), and a write may land after the
caller has reported failure. `gather_all` cancels the rest and waits for them first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Their results, in order. If one fails, or the caller is canceled, the others are
    canceled and awaited before the error is raised: nothing started here runs on after it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
