"""Time in DTQ is Redis time (invariant 5): milliseconds from the server's clock, and their
conversions to and from datetimes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis


def ms_of(time_reply: Sequence[int]) -> int:
    """Milliseconds since the epoch from a TIME reply (seconds, microseconds)."""
    seconds, micros = time_reply
    return int(seconds) * 1000 + int(micros) // 1000


async def redis_now_ms(redis: Redis) -> int:
    """The Redis server's clock, in milliseconds since the epoch."""
    return ms_of(await redis.time())


def from_ms(ms: int | str) -> datetime:
    """A UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(when.timestamp() * 1000)
