"""The events stream, read as per-job events: the scripts write one entry per batch (a
comma-separated `job_ids`), readers get one event per job with an id they can resume after."""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import orjson

from dtq.queue.scripts.library import Library
from dtq.queue.tenant_ids import public_id, tenant_of


class Position(NamedTuple):
    """A place in the feed: a stream entry id and a job's place within the entry."""

    ms: int
    seq: int
    place: int

    @classmethod
    def parse(cls, event_id: str) -> Position:
        """The position of an event id ("<ms>-<seq>.<index>") or of a bare stream entry id
        (its last job: resume after the whole entry)."""
        entry, _, index = event_id.partition(".")
        ms, _, seq = entry.partition("-")
        return cls(int(ms), int(seq or 0), int(index) if index else 1 << 30)

    @property
    def entry_id(self) -> str:
        """The stream entry id."""
        return f"{self.ms}-{self.seq}"


class TenantEvent(NamedTuple):
    """A feed event (the fields of models.FeedEvent, as JSON) and its job's tenant."""

    tenant: str
    position: Position
    json: bytes


_NUMBERS = {"attempt": int, "percent": float}


def split_entry(entry_id: str, fields: dict[str, str]) -> list[TenantEvent]:
    """One stream entry as one event per job it names (plain dicts encoded once: the feed
    carries every transition, so no model is built per event)."""
    ms, _, seq = entry_id.partition("-")
    out = []
    common: dict[str, Any] = {"type": "event", "status": fields.get("status", "")}
    common["at"] = int(fields.get("at") or ms)
    for k in ("worker", "attempt", "reason", "percent", "message"):
        if fields.get(k):
            common[k] = _NUMBERS.get(k, str)(fields[k])
    for i, stored in enumerate(fields.get("job_ids", "").split(",")):
        if not stored:
            continue
        event = {"id": f"{entry_id}.{i}", "job_id": public_id(stored), **common}
        out.append(
            TenantEvent(tenant_of(stored), Position(int(ms), int(seq), i), orjson.dumps(event))
        )
    return out


class Events:
    """Reads of the events stream for the live feed."""

    def __init__(self, lib: Library) -> None:
        self._redis = lib.redis
        self._key = lib.keys.events

    async def last_entry_id(self) -> str:
        """The newest entry's id ("0-0" when the stream is empty): read after it for new ones."""
        last = cast(list[Any], await self._redis.xrevrange(self._key, count=1))
        return str(last[0][0]) if last else "0-0"

    async def first_entry_id(self) -> str | None:
        """The oldest entry kept (None when the stream is empty)."""
        first = cast(list[Any], await self._redis.xrange(self._key, count=1))
        return str(first[0][0]) if first else None

    async def wait(self, after: str, block_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
        """Entries after `after`, waiting up to `block_ms` for the first."""
        reply = cast(
            list[Any], await self._redis.xread({self._key: after}, count=count, block=block_ms)
        )
        return cast(list[tuple[str, dict[str, str]]], reply[0][1]) if reply else []

    async def since(self, after: Position, count: int) -> tuple[list[TenantEvent], str | None]:
        """The events of up to `count` entries after `after`, oldest first (for a resuming
        client), and the id of the last entry read (None: nothing after `after`)."""
        entries = cast(
            list[Any], await self._redis.xrange(self._key, min=after.entry_id, count=count)
        )
        events = [
            e for entry_id, fields in entries for e in split_entry(entry_id, fields)
            if e.position > after
        ]  # fmt: skip
        last = str(entries[-1][0]) if entries else None
        return events, None if last is None or last == after.entry_id and not events else last
