"""The face of fail.lua: record failed attempts (retry after a delay, or dead-letter), fenced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.typing import EncodableT

from dtq.queue.delivery import Failure
from dtq.queue.keys import QueueKeys
from dtq.queue.scripts.codes import Code, Outcome
from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class Failed:
    """One failure's outcome: RETRYING (with its due time), DEAD or STALE."""

    outcome: Outcome
    due_at_ms: int | None = None


def _decode(replies: list[Any]) -> list[Failed]:
    out = []
    for reply in replies:
        outcome = Outcome.of(reply[0])
        due = int(reply[1]) if outcome.code == Code.RETRYING else None
        out.append(Failed(outcome, due))
    return out


def fail(
    lib: Library, *, queue: QueueKeys, consumer: str, failures: Sequence[Failure]
) -> Call[list[Failed]]:
    """Record each failure (of `queue`'s jobs): a retry after its delay, or the DLQ once
    retries are spent."""
    k, s = lib.keys, lib.settings
    keys = [*queue.streams, k.delayed, k.dlq, k.stats, k.events, k.dependency_outbox]
    keys.append(queue.lanes)
    keys += [k.job(f.delivery.job_id) for f in failures]
    args: list[EncodableT] = [s.CONSUMER_GROUP, consumer, s.EVENTS_MAXLEN, len(failures)]
    for f in failures:
        d = f.delivery
        args += (d.job_id, d.level_arg, d.entry_id, d.attempt, f.error, f.delay_ms, f.reason)
        args.append(f.traceback)
    return Call(lib.script("fail"), keys, args, _decode)
