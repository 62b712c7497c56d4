"""The live feed's per-client buffer: bounded in bytes, coalesced into a resync for a client
that falls behind while reading, dropped for one that is not reading; tenants filtered."""

from __future__ import annotations

import json

import pytest

from dtq.api import feed
from dtq.api.feed import Batch, Subscriber, frame
from dtq.queue import split_entry


def batch(entry: str, ids: list[str]) -> Batch:
    return Batch(split_entry(entry, {"job_ids": ",".join(ids), "status": "pending", "at": "1"}))


def test_a_tenant_gets_only_its_own_events_in_a_frame() -> None:
    b = batch("1-0", ["acme/a", "globex/b", "acme/c"])
    acme = Subscriber("acme", max_bytes=1 << 20)
    acme.offer(b)
    skipped, parts = acme.take(1 << 20)
    assert skipped == 0
    events = json.loads(frame(parts))["events"]
    assert [(e["id"], e["job_id"]) for e in events] == [("1-0.0", "a"), ("1-0.2", "c")]
    other = Subscriber("initech", max_bytes=1 << 20)
    other.offer(b)
    assert other.buffered == 0  # nothing of its own: nothing buffered


def test_a_client_behind_the_bound_gets_a_resync_instead_of_the_backlog() -> None:
    s = Subscriber(None, max_bytes=2000)
    for i in range(10):
        s.offer(batch(f"{i}-0", [f"job-{i}-{k}" for k in range(5)]))
    skipped, parts = s.take(1 << 20)
    assert skipped > 0
    assert s.buffered == 0
    total = skipped + sum(p.count(b'"job_id"') for p in parts)
    assert total == 50  # every event is either sent or counted in the resync
    assert not s.dropped.is_set()


def test_a_client_whose_send_is_stuck_while_events_wait_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed, "STALLED_S", 0.0)
    s = Subscriber(None, max_bytes=2000)
    with s.sending():
        assert not s.check_stalled()  # stuck, but nothing waits
        for i in range(10):
            s.offer(batch(f"{i}-0", [f"job-{i}-{k}" for k in range(5)]))
        assert s.check_stalled()
    assert s.dropped.is_set()
    assert "not reading" in s.reason
    assert s.buffered == 0
