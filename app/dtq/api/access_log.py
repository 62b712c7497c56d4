"""uvicorn's access log without the noise of polling: successful reads (GET, HEAD) are logged
only at DEBUG; writes and every error answer stay at INFO."""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


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
