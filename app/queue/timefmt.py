"""Conversions between Redis millisecond timestamps and datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def from_ms(ms: int | str) -> datetime:
    """A UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def to_ms(when: datetime) -> int:
    """Milliseconds since the epoch."""
    return int(when.timestamp() * 1000)
