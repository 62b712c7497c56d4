"""Polling is quiet in the access log: successful reads only at DEBUG."""

import logging

from dtq.api.access_log import ACCESS_LOGGER, QuietReads


def _record(method: str, status: int) -> logging.LogRecord:
    args = ("127.0.0.1:5000", method, "/jobs/x", "1.1", status)
    return logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
    )


def test_successful_reads_only_at_debug() -> None:
    access = logging.getLogger(ACCESS_LOGGER)
    quiet = QuietReads()
    access.setLevel(logging.INFO)
    assert not quiet.filter(_record("GET", 200))
    assert quiet.filter(_record("POST", 201)) and quiet.filter(_record("GET", 404))
    access.setLevel(logging.DEBUG)
    assert quiet.filter(_record("GET", 200))
    access.setLevel(logging.NOTSET)
