"""The live feed's fan-out: one reader of the events stream per API process, many WebSocket
clients, each with a bounded buffer, sent only its own tenant's events.

The reader splits each stream entry into per-job events once, and encodes each tenant's part
once, however many clients share it; a client's buffer holds references to those shared
batches. A client that is behind gets everything it has missed in one frame (coalesced); one
that falls more than FEED_BUFFER batches behind is dropped (close code 1013, with the reason)
and resumes from Redis with the last event id it saw, so a stalled socket can neither block the
others nor grow this process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from dtq.queue import Engine, TenantEvent, split_entry

logger = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
READ_COUNT = 100  # entries per read: at most this many batches reach a buffer at once
SLOW_CLIENT = 1013  # WebSocket close code "try again later"


class Batch:
    """One events-stream entry as per-job events, shared by every subscriber."""

    __slots__ = ("_events", "_parts")

    def __init__(self, events: list[TenantEvent]) -> None:
        self._events = events
        self._parts: dict[str | None, bytes] = {}

    def part(self, tenant: str | None) -> bytes:
        """The comma-separated JSON events that `tenant` may see (None: every tenant)."""
        part = self._parts.get(tenant)
        if part is None:
            part = b",".join(e.json for e in self._events if tenant is None or e.tenant == tenant)
            self._parts[tenant] = part
        return part


def frame(parts: list[bytes]) -> str:
    """One `events` message of the given parts."""
    return '{"type":"events","events":[' + b",".join(p for p in parts if p).decode() + "]}"


class Subscriber:
    """One client's place in the fan-out: its tenant (None: every tenant) and its buffer."""

    def __init__(self, tenant: str | None, buffer: int) -> None:
        self.tenant = tenant
        self.batches: asyncio.Queue[Batch] = asyncio.Queue(maxsize=buffer)
        self.dropped = asyncio.Event()
        self.reason = ""

    def offer(self, batch: Batch) -> None:
        """Buffer a batch; drop the client when its buffer is full."""
        if self.dropped.is_set():
            return
        try:
            self.batches.put_nowait(batch)
        except asyncio.QueueFull:
            self.reason = (
                f"slow consumer: more than {self.batches.maxsize} batches unread; reconnect "
                "with last_event_id to resume"
            )
            self.dropped.set()
            while not self.batches.empty():  # its memory goes now, not when the socket closes
                self.batches.get_nowait()

    def take(self, first: Batch, max_bytes: int) -> list[bytes]:
        """The parts of `first` and of the batches buffered after it, up to about `max_bytes`
        (the frame one send carries)."""
        parts = [first.part(self.tenant)]
        size = len(parts[0])
        while size < max_bytes and not self.batches.empty():
            parts.append(self.batches.get_nowait().part(self.tenant))
            size += len(parts[-1])
        return parts


class Hub:
    """The process's one events-stream reader, running while any client is connected."""

    def __init__(self, engine: Engine, buffer: int) -> None:
        self._engine = engine
        self._buffer = buffer
        self._subscribers: set[Subscriber] = set()
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.position = "0-0"  # the last stream entry fanned out

    @property
    def clients(self) -> int:
        """Connected clients."""
        return len(self._subscribers)

    async def join(self, tenant: str | None) -> Subscriber:
        """A new subscriber; live events from the moment this returns reach its buffer."""
        subscriber = Subscriber(tenant, self._buffer)
        self._subscribers.add(subscriber)
        if self._reader is None or self._reader.done():
            self._started.clear()
            self._reader = asyncio.create_task(self._read(), name="dtq-feed-reader")
        await self._started.wait()
        return subscriber

    async def leave(self, subscriber: Subscriber) -> None:
        """Forget a subscriber; the reader stops with the last one."""
        self._subscribers.discard(subscriber)
        if not self._subscribers and self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None

    async def close(self) -> None:
        """Stop the reader (at shutdown)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        events = self._engine.events
        while True:
            try:
                self.position = await events.last_entry_id()
                break
            except RedisError as exc:
                logger.warning("feed: redis unavailable error=%s", exc)
                self._started.set()
                await asyncio.sleep(1)
        self._started.set()
        while True:
            try:
                entries = await events.wait(self.position, READ_BLOCK_MS, READ_COUNT)
            except RedisError as exc:
                logger.warning("feed: reading events failed error=%s", exc)
                await asyncio.sleep(1)
                continue
            for entry_id, fields in entries:
                self.position = entry_id
                batch = Batch(split_entry(entry_id, fields))
                for subscriber in list(self._subscribers):
                    subscriber.offer(batch)
