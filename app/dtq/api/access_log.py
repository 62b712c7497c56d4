"""uvicorn's access log without the noise of polling and of submissions: successful reads (GET,
HEAD) are logged only at DEBUG; successful single submissions (`POST /jobs`) are counted, one
INFO line per SUMMARY_S saying how many, and logged one by one only at DEBUG; every other write
and every error answer stay at INFO, a line each."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

ACCESS_LOGGER = "uvicorn.access"
# The summary lines' logger (uvicorn's access formatter takes its own lines' fields only).
SUMMARY_LOGGER = "dtq.api.submissions"
# A summary of the successful submissions every this many seconds (while there are some).
SUMMARY_S = 10.0


class QuietReads(logging.Filter):
    """Drops the access lines of successful reads unless DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) < 5:
            return True
        method, status = args[1], args[4]
        if method in ("GET", "HEAD") and isinstance(status, int) and status < 400:
            return logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.DEBUG)
        return True


def quiet_reads() -> None:
    """Install the filter on uvicorn's access logger (once)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QuietReads) for f in access.filters):
        access.addFilter(QuietReads())


class SubmissionTally:
    """The successful single submissions of this process: a window opens with the first one
    and is logged as one line SUMMARY_S later (or when the process stops: `flush`)."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(SUMMARY_LOGGER)
        self.count = 0
        self.since = 0.0

    def add(self) -> None:
        """Count one (on the event loop's thread)."""
        if self.count == 0:
            self.since = time.monotonic()
            asyncio.get_running_loop().call_later(SUMMARY_S, self.flush)
        self.count += 1

    def flush(self) -> None:
        """Log the open window's count, if any, and close it."""
        if self.count:
            seconds = time.monotonic() - self.since
            self.logger.info("submissions accepted count=%d seconds=%.1f", self.count, seconds)
            self.count = 0


class TalliedAccessLog:
    """What uvicorn's request cycle logs its access lines through (a protocol's
    `access_logger`): a successful `POST /jobs` goes to the tally, without a log record (at
    thousands a second, a record each cost the API about a quarter of its CPU), unless DEBUG is
    on; anything else to the logger itself."""

    def __init__(self, logger: logging.Logger, tally: SubmissionTally) -> None:
        self.logger = logger
        self.tally = tally

    def info(self, msg: str, *args: Any) -> None:
        """uvicorn's call: (client, method, path with query, HTTP version, status)."""
        if (
            len(args) == 5
            and args[1] == "POST"
            and args[2] == "/jobs"
            and args[4] < 400
            and not self.logger.isEnabledFor(logging.DEBUG)
        ):
            self.tally.add()
            return
        self.logger.info(msg, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)


TALLY = SubmissionTally()  # this process's


def tallied_access_log(logger: logging.Logger) -> TalliedAccessLog:
    """`logger` behind this process's submission tally."""
    return TalliedAccessLog(logger, TALLY)
