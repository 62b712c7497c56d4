"""The live feed's fan-out: one reader of the events stream per API process, many WebSocket
clients, each with a bounded buffer, sent only its own tenant's events.

The reader splits each stream entry into per-job events once, and encodes each tenant's part
once, however many clients share it; a client's buffer holds references to those shared
batches. A client gets at most ten frames a second, each carrying what came meanwhile; one
that falls more than FEED_BUFFER_BYTES behind gets a `resync` instead of what it missed, and
one that stops reading is dropped (close code 1013, with the reason; it resumes from Redis with
the last event id it saw), so a stalled socket can neither block the others nor grow this
process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from dtq.queue import Engine, TenantEvent, split_entry

logger = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
READ_COUNT = 100  # entries per read: at most this many batches reach a buffer at once
SLOW_CLIENT = 1013  # WebSocket close code "try again later"
STALLED_S = 5.0  # a send stuck this long while events wait: the client is not reading


class Batch:
    """One events-stream entry as per-job events, shared by every subscriber."""

    __slots__ = ("_events", "_parts")

    def __init__(self, events: list[TenantEvent]) -> None:
        self._events = events
        self._parts: dict[str | None, bytes] = {}

    def count(self, tenant: str | None) -> int:
        """How many of its events `tenant` may see."""
        return sum(1 for e in self._events if tenant is None or e.tenant == tenant)

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
    """One client's place in the fan-out: its tenant (None: every tenant) and its buffer, bounded
    in bytes. A client that falls behind the bound while it is still reading gets the buffer
    coalesced into one `resync` (it reloads over HTTP, then follows live); one whose send has
    been stuck for STALLED_S while events wait is not reading at all, and is dropped."""

    def __init__(self, tenant: str | None, max_bytes: int) -> None:
        self.tenant = tenant
        self.max_bytes = max_bytes
        self._batches: deque[tuple[Batch, int]] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._skipped = 0  # events coalesced away since the last resync was sent
        self._sending_since: float | None = None
        self._overflowed_while_sending = False
        self.dropped = asyncio.Event()
        self.reason = ""

    def offer(self, batch: Batch) -> None:
        """Buffer a batch: coalesce when over the bound, drop a client that is not reading."""
        if self.dropped.is_set():
            return
        size = len(batch.part(self.tenant))
        if size == 0:
            return
        if self._bytes + size > self.max_bytes:
            self._skipped += sum(b.count(self.tenant) for b, _ in self._batches)
            self._batches.clear()
            self._bytes = 0
            if self._sending_since is not None:
                self._overflowed_while_sending = True
        self._batches.append((batch, size))
        self._bytes += size
        self._ready.set()

    @property
    def buffered(self) -> int:
        """Bytes of events waiting to be sent."""
        return self._bytes

    async def wait(self, timeout: float) -> bool:
        """Whether something is ready to send within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def take(self, max_bytes: int) -> tuple[int, list[bytes]]:
        """Events skipped by coalescing since the last call (0: none), and the parts buffered,
        up to about `max_bytes` (the frame one send carries)."""
        skipped, self._skipped = self._skipped, 0
        parts: list[bytes] = []
        size = 0
        while self._batches and size < max_bytes:
            batch, n = self._batches.popleft()
            self._bytes -= n
            parts.append(batch.part(self.tenant))
            size += n
        if not self._batches:
            self._ready.clear()
        return skipped, parts

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Around a send: while it is stuck, the client is not reading."""
        self._sending_since = time.monotonic()
        try:
            yield
        finally:
            self._sending_since = None
            self._overflowed_while_sending = False

    def check_stalled(self) -> bool:
        """Drop the client when a send to it has been stuck for STALLED_S while more events
        wait: it is not reading. True when dropped."""
        since = self._sending_since
        waiting = self._overflowed_while_sending or self._bytes > 0 or self._skipped > 0
        if since is None or not waiting:
            return False
        if time.monotonic() - since <= STALLED_S:
            return False
        self.reason = (
            f"slow consumer: not reading (a send stuck for over {STALLED_S:g} s); reconnect "
            "with last_event_id to resume"
        )
        self._batches.clear()  # its memory goes now, not when the socket closes
        self._bytes = 0
        self.dropped.set()
        return True


class Hub:
    """The process's one reader of a shard's events stream, running while any client is
    connected."""

    def __init__(self, engine: Engine, buffer_bytes: int) -> None:
        self._engine = engine
        self._buffer_bytes = buffer_bytes
        self._subscribers: set[Subscriber] = set()
        self._reader: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.position = "0-0"  # the last stream entry fanned out

    @property
    def clients(self) -> int:
        """Live-feed clients on this process."""
        return len(self._subscribers)

    async def join(self, tenant: str | None, subscriber: Subscriber | None = None) -> Subscriber:
        """A new subscriber (or one of another shard's hub too); live events from the moment
        this returns reach its buffer."""
        subscriber = subscriber or Subscriber(tenant, self._buffer_bytes)
        self._subscribers.add(subscriber)
        if self._reader is None or self._reader.done():
            self._started.clear()
            self._reader = asyncio.create_task(self._read(), name="dtq-feed-reader")
        await self._started.wait()
        return subscriber

    async def leave(self, subscriber: Subscriber) -> None:
        """Forget a subscriber; the reader stops with the last one (a client joining while it
        stops starts a new one)."""
        self._subscribers.discard(subscriber)
        reader = self._reader
        if not self._subscribers and reader is not None:
            self._reader = None
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

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
                try:
                    batch = Batch(split_entry(entry_id, fields))
                except Exception:  # one entry this build cannot read must not stop the feed
                    logger.exception("feed: skipped an unreadable event entry_id=%s", entry_id)
                    continue
                for subscriber in list(self._subscribers):
                    subscriber.offer(batch)
