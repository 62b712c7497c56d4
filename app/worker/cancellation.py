"""Cancels of running jobs reach their worker at once over Redis pub/sub.

The cancel itself is durable (cancel.lua records it on the job and acks its entry); the message
only makes the worker stop the handler now instead of letting it run to a refused completion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.queue.keys import Keys

logger = logging.getLogger(__name__)


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library turned into another error on its way up.

    Loops that retry after Redis errors call this first, so they still stop when cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def listen_for_cancels(redis: Redis, keys: Keys, on_cancel: Callable[[str], None]) -> None:
    """Call `on_cancel(job_id)` for every cancel published, resubscribing after errors."""
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(keys.cancel_channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        on_cancel(str(message["data"]))
        except RedisError as exc:
            raise_if_cancelling()
            logger.warning("cancel listener lost its connection, resubscribing error=%s", exc)
            await asyncio.sleep(1)
