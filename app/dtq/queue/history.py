"""Stats history for the dashboard's charts, kept in Redis (it survives API restarts).

Every API process samples every HISTORY_SAMPLE_S; history.lua keeps one sample per 5 s step (an
hour) and one per minute (a day) in two capped streams. A sample holds the cumulative counters
and latency histograms of the stats hash, so a step's rates and percentiles are the difference
of two samples: nothing is written per job.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import orjson

from dtq.models import PRIORITY_ORDER, History, HistoryPoint
from dtq.queue.clock import ms_of
from dtq.queue.queues import Queues
from dtq.queue.scripts.history import COARSE_STEP_MS, FINE_STEP_MS, history
from dtq.queue.scripts.library import Library

# Rates, by their name in HistoryPoint, from these cumulative counters of the stats hash.
COUNTERS = {
    "enqueued": "created_total",
    "started": "started_total",
    "succeeded": "completed_total",
    "failed": "failed_total",
    "retried": "retried_total",
    "dead": "dead_total",
    "canceled": "jobs:canceled",
}
FINE_WINDOW_S = 3600


class Sample(NamedTuple):
    """One stored sample: when, the stats hash's counters, the gauges."""

    at: int
    counters: dict[str, int]
    gauges: dict[str, Any]


def _sample(entry_id: str, fields: dict[str, str]) -> Sample:
    flat = orjson.loads(fields["counters"])
    counters = {str(flat[i]): int(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
    return Sample(int(entry_id.partition("-")[0]), counters, orjson.loads(fields["gauges"]))


def percentile(before: dict[str, int], after: dict[str, int], kind: str, q: float) -> float | None:
    """The q-quantile (ms) of one latency histogram (see _lib.lua's observe) between two
    samples; None when nothing was observed."""
    prefix = f"lat:{kind}:"
    counts = sorted(
        (int(field[len(prefix) :]), n - before.get(field, 0))
        for field, n in after.items()
        if field.startswith(prefix)
    )
    total = sum(n for _, n in counts)
    if total <= 0:
        return None
    seen = 0
    for bin_, n in counts:
        seen += n
        if seen >= q * total:
            return 0.5 if bin_ == 0 else round(2 ** ((bin_ - 0.5) / 2), 1)
    return None


def points(samples: list[Sample], step_ms: int) -> list[HistoryPoint]:
    """One point per step: the last sample of each step against the one before it."""
    last_of_step: dict[int, Sample] = {}
    for s in samples:
        last_of_step[s.at // step_ms] = s
    chosen = [last_of_step[k] for k in sorted(last_of_step)]
    out = []
    for before, after in zip(chosen, chosen[1:], strict=False):
        seconds = max((after.at - before.at) / 1000, 0.001)
        rates = {
            name: round(max(after.counters.get(c, 0) - before.counters.get(c, 0), 0) / seconds, 3)
            for name, c in COUNTERS.items()
        }
        g = after.gauges
        oldest = g.get("oldest_pending_at")
        out.append(
            HistoryPoint(
                at=after.at,
                **rates,
                pending_by_priority=g.get("pending_by_priority", {}),
                running=g.get("running", 0),
                lag=g.get("lag", 0),
                oldest_pending_age_ms=max(after.at - oldest, 0) if oldest else None,
                wait_p50_ms=percentile(before.counters, after.counters, "wait", 0.5),
                wait_p99_ms=percentile(before.counters, after.counters, "wait", 0.99),
                run_p50_ms=percentile(before.counters, after.counters, "run", 0.5),
                run_p99_ms=percentile(before.counters, after.counters, "run", 0.99),
            )
        )
    return out


class StatsHistory:
    """Samples the counters and gauges into Redis; reads them back as points per step."""

    def __init__(self, lib: Library, queues: Queues) -> None:
        self._lib = lib
        self._redis = lib.redis
        self._keys = lib.keys
        self._queues = queues

    async def record(self) -> int:
        """Sample now into each history stream whose current step has no sample yet."""
        infos = await self._queues.all()
        oldest = [q.oldest_pending_at for q in infos if q.oldest_pending_at]
        gauges = {
            "pending_by_priority": {
                p.value: sum(q.pending_by_priority.get(p, 0) for q in infos) for p in PRIORITY_ORDER
            },
            "running": sum(q.running for q in infos),
            "lag": sum(q.pending for q in infos),
            "oldest_pending_at": min(oldest) if oldest else None,
        }
        return await history(self._lib, gauges=orjson.dumps(gauges).decode()).run()

    async def window(self, window_s: int, step_s: int) -> History:
        """Points at `step_s` over the last `window_s` seconds (5 s samples for an hour or less
        at steps under a minute, else 1 min samples)."""
        fine = step_s < 60 and window_s <= FINE_WINDOW_S
        stream = self._keys.history_fine if fine else self._keys.history_coarse
        sample_ms = FINE_STEP_MS if fine else COARSE_STEP_MS
        step_ms = max(step_s * 1000, sample_ms)
        now = ms_of(await self._redis.time())
        rows = cast(
            list[Any], await self._redis.xrange(stream, min=now - window_s * 1000 - step_ms)
        )
        samples = [_sample(entry_id, fields) for entry_id, fields in rows]
        return History(window_s=window_s, step_s=step_ms // 1000, data=points(samples, step_ms))
