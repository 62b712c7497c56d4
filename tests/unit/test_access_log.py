"""Polling and submitting are quiet in the access log: successful reads only at DEBUG,
successful single submissions counted (a summary line) and logged one by one only at DEBUG."""

import logging

import pytest

from dtq.api.access_log import (
    ACCESS_LOGGER,
    SUMMARY_LOGGER,
    SUMMARY_S,
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


def test_successful_submissions_are_counted_not_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = logging.getLogger(ACCESS_LOGGER)
    log = TalliedAccessLog(access, tally := SubmissionTally())
    fmt = '%s - "%s %s HTTP/%s" %d'
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 201)
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 422)  # an error: its line
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs/batch", "1.1", 201)  # another write
        lines = [r.args[2:] for r in caplog.records]
        assert lines == [("/jobs", "1.1", 422), ("/jobs/batch", "1.1", 201)]
        assert tally.count == 3
        monkeypatch.setattr(tally, "since", tally.since - SUMMARY_S)  # a window has passed
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 200)
    summary = caplog.records[-1]
    assert summary.name == SUMMARY_LOGGER and summary.getMessage().startswith(
        "submissions accepted count=4 seconds=10."
    )
    assert tally.count == 0
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=ACCESS_LOGGER):  # DEBUG: a line each again
        log.info(fmt, "127.0.0.1:5000", "POST", "/jobs", "1.1", 201)
    assert len(caplog.records) == 1 and caplog.records[0].name == ACCESS_LOGGER
