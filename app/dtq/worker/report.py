"""A worker's summary in its log: what it settled, now and then while jobs move."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sized

from dtq.queue import Settled

logger = logging.getLogger("dtq.worker.runner")

SUMMARY_INTERVAL_S = 10.0
IDLE_SUMMARY_S = 600.0


class Report:
    """The summary lines of one Worker (one shard's), from its running totals."""

    def __init__(self, name: str, shard: str, totals: Settled, inflight: Sized) -> None:
        self._name = name
        self._shard = shard
        self._totals = totals
        self._inflight = inflight

    def line(self) -> str:
        """The totals so far, as log fields."""
        t = self._totals
        return (
            f"completed={t.completed} retried={t.retried} dead={t.dead} stale={t.stale} "
            f"inflight={len(self._inflight)}"
        )

    async def run(self) -> None:
        """A summary every SUMMARY_INTERVAL_S while jobs move; an idle worker stays quiet but
        for one line every IDLE_SUMMARY_S (so that its log still shows it alive)."""
        last = self._progress()
        quiet_since = time.monotonic()
        while True:
            await asyncio.sleep(SUMMARY_INTERVAL_S)
            now = self._progress()
            idle = now == last and not len(self._inflight)
            if idle and time.monotonic() - quiet_since < IDLE_SUMMARY_S:
                continue
            logger.info(
                "worker summary name=%s shard=%s %s rate=%.1f/s",
                self._name,
                self._shard,
                self.line(),
                (now[0] - last[0]) / SUMMARY_INTERVAL_S,
            )
            last, quiet_since = now, time.monotonic()

    def _progress(self) -> tuple[int, int, int, int]:
        t = self._totals
        return (t.completed, t.retried, t.dead, t.stale)
