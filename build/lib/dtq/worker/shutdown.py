"""Signals: the first SIGTERM/SIGINT stops the worker gracefully, a second one at once."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

logger = logging.getLogger(__name__)


def install_signal_handlers(stop: Callable[[], None], main_task: asyncio.Task[None]) -> None:
    """Call `stop` on the first signal and cancel `main_task` on the second."""
    loop = asyncio.get_running_loop()
    received = 0

    def on_signal(signum: int) -> None:
        nonlocal received
        received += 1
        if received == 1:
            logger.info(
                "signal received, shutting down gracefully signal=%s", signal.Signals(signum).name
            )
            stop()
        else:
            logger.warning("second signal, stopping now")
            main_task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
