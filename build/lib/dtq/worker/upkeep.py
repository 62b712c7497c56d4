"""The upkeep every worker runs beside its jobs, each loop named for what it does.

- due: moves scheduled jobs whose time has come back to their queues, and submits the jobs of
  due schedule ticks (both on the Redis clock; any number of workers may do it at once);
- tidy: once a second, releases the dependents of parents whose finisher died, and trims
  acknowledged entries from the streams;
- housekeeping: prunes indexes, idle consumers and silent workers (one worker at a time);
- cancels: stops the handlers of jobs canceled while they run here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dtq.config import Settings
from dtq.queue import Engine, repeat

logger = logging.getLogger(__name__)

TIDY_INTERVAL_S = 1.0


class Upkeep:
    """The upkeep loops of one worker; each runs until cancelled and survives Redis errors."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._settings: Settings = engine.settings

    async def _move_due(self) -> float:
        promoted, next_due_ms = await self._engine.promote_due()
        if promoted:
            logger.debug("promoted due jobs count=%d", promoted)
        if await self._engine.fire_schedules():
            next_due_ms = 0  # the submitted jobs may be delayed ones: look again soon
        interval = self._settings.PROMOTE_INTERVAL_MS / 1000
        wait = interval if next_due_ms is None else min(interval, next_due_ms / 1000)
        return max(wait, 0.001)

    async def due(self) -> None:
        """Promote due scheduled jobs and fire due schedules, every PROMOTE_INTERVAL_MS (sooner
        when the next job is due sooner)."""
        await repeat("moving due jobs", self._move_due)

    async def _tidy(self) -> float:
        await self._engine.sweep_dependencies()
        await self._engine.trim()
        return TIDY_INTERVAL_S

    async def tidy(self) -> None:
        """Sweep the dependency outbox and trim the streams, once a second."""
        await repeat("tidying", self._tidy)

    async def _housekeep(self) -> float:
        await self._engine.housekeep()
        return self._settings.HOUSEKEEPING_INTERVAL_S

    async def housekeeping(self) -> None:
        """One round of housekeeping every HOUSEKEEPING_INTERVAL_S (the first after one)."""
        await asyncio.sleep(self._settings.HOUSEKEEPING_INTERVAL_S)
        await repeat("housekeeping", self._housekeep)

    async def cancels(self, on_cancel: Callable[[str], None]) -> None:
        """Call `on_cancel(job id)` for each job canceled while it runs; resubscribe on errors."""

        async def listen() -> float:
            await self._engine.listen_for_cancels(on_cancel)
            return 1.0

        await repeat("cancel listener", listen)
