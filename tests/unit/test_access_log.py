"""Polling and submitting are quiet in the access log: successful reads only at DEBUG,
successful single submissions counted (a summary line) and logged one by one only at DEBUG."""

import asyncio
import logging

import pytest

from dtq.api import access_log
from dtq.api.access_log import (
    ACCESS_LOGGER,
    SUMMARY_LOGGER,
    QuietReads,
    SubmissionTally,
    TalliedAccessLog,
)


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


async def test_successful_submissions_are_counted_not_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "SUMMARY_S", 0.05)
    log = TalliedAccessLog(logging.getLogger(ACCESS_LOGGER), tally := SubmissionTally())
    fmt = '%s - "%s %s HTTP/%s" %d'
    with caplog.at_level(logging.INFO):
        for status in (201, 201, 200):  # 200: an idempotent replay
            log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", status)
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 422)  # an error: its line
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs/batch", "1.1", 201)  # another write
        lines = [r.args[2:] for r in caplog.records]
        assert lines == [("/jobs", "1.1", 422), ("/jobs/batch", "1.1", 201)]
        assert tally.count == 3
        await asyncio.sleep(0.1)  # the window closes: one line
        summary = caplog.records[-1]
        assert summary.name == SUMMARY_LOGGER
        assert summary.getMessage().startswith("submissions accepted count=3 seconds=0.")
        assert tally.count == 0
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 201)
        tally.flush()  # as the API stops: the open window's line at once
        assert caplog.records[-1].getMessage().startswith("submissions accepted count=1 ")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=ACCESS_LOGGER):  # DEBUG: a line each again
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 201)
    assert len(caplog.records) == 1 and caplog.records[0].name == ACCESS_LOGGER
