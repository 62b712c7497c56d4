"""Loops that talk to Redis and must outlive its hiccups: one helper instead of a copy per loop.

A loop step that fails with a RedisError (is_redis_failure) is logged and tried again after a
pause; any other error ends the loop (and its TaskGroup) loudly, or, for a loop that runs on its
own (`carry_on`), is logged with its traceback and tried again: no loop dies quietly.
Cancellation always ends it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def is_redis_failure(exc: BaseException) -> bool:
    """A RedisError, or the RuntimeError uvloop raises for a write to a closed socket when
    redis-py reconnects while it handles a connection error (seen as a Sentinel promoted a new
    master): its context is that RedisError. Either way the server went away, not the code."""
    return isinstance(exc, RedisError) or (
        isinstance(exc, RuntimeError) and isinstance(exc.__context__, RedisError)
    )


def raise_if_cancelling() -> None:
    """Raise CancelledError if this task was asked to cancel.

    redis-py 8.1's asyncio client sometimes swallows a cancellation that arrives during a call
    (a probe saw it in 23 of 60 tries on a pipeline): the call returns or fails as if nothing
    happened, and the task would loop on forever. Every Redis loop checks this on each turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def repeat(
    what: str,
    step: Callable[[], Awaitable[float | None]],
    retry_after_s: float = 1.0,
    *,
    carry_on: bool = False,
) -> None:
    """Run `step` until it returns None; it returns the seconds to wait before the next turn.

    A RedisError (is_redis_failure) is logged as "<what> failed" and the step runs again after
    `retry_after_s`.
    With `carry_on` (a task nobody awaits until shutdown), so is any other exception, logged
    with its traceback at error level; without it, any other exception ends the loop.
    """
    while True:
        raise_if_cancelling()
        try:
            wait = await step()
        except Exception as exc:
            redis_failure = is_redis_failure(exc)
            if not (redis_failure or carry_on):
                raise
            raise_if_cancelling()
            if redis_failure:
                logger.warning("%s failed, retrying in %g s error=%s", what, retry_after_s, exc)
            else:
                logger.exception("%s failed unexpectedly, retrying in %g s", what, retry_after_s)
            wait = retry_after_s
        if wait is None:
            return
        await asyncio.sleep(wait)
