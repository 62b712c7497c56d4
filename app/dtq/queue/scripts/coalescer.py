"""Coalescer: independent script calls made concurrently (one per API request, say) sent
together, a pipeline per round trip instead of a round trip each (group commit).

A call made while no round trip is in flight goes at once; calls made while one is in flight
wait for it and then go together in the next. So an idle process adds no delay and a busy one
pays the client's per-command cost (connection checkout, retries, timeouts) once per round trip.
Each call stays atomic and independent: its reply is decoded on its own, and an error (its own
decode's, or the server's) reaches only its caller.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from redis.asyncio import Redis

from dtq.queue.scripts.library import Call, send

T = TypeVar("T")

# Calls sent in one pipeline at most; more wait for the next round trip.
MAX_CALLS = 256


class Coalescer:
    """Runs script calls, those made during a round trip together in the next one."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: list[tuple[Call[Any], asyncio.Future[Any]]] = []
        self._sender: asyncio.Task[None] | None = None  # the task sending, while there is one

    async def run(self, call: Call[T]) -> T:
        """The call's decoded reply, or its error."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, future))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send())
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                calls = self._waiting[:MAX_CALLS]
                del self._waiting[:MAX_CALLS]
                try:
                    await self._round_trip(calls)
                except BaseException as exc:  # no caller may wait for ever
                    for _, future in calls:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._sender = None

    async def _round_trip(self, calls: list[tuple[Call[Any], asyncio.Future[Any]]]) -> None:
        """One pipeline of calls (see library.send)."""
        if len(calls) == 1 and calls[0][0].script.acks is None:  # no pipeline for one call
            call = calls[0][0]
            replies: list[Any] = [await call.script(call.declared, call.args)]
        else:
            replies = await send(self._redis, [call for call, _ in calls])
        for (call, future), reply in zip(calls, replies, strict=True):
            if future.done():  # its caller gave up (cancelled)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                try:
                    future.set_result(call.decode(reply))
                except Exception as exc:  # e.g. DuplicateJobError: this caller's alone
                    future.set_exception(exc)
