"""A worker's Prometheus metrics (served on WORKER_METRICS_PORT): what it started, how those
attempts ended, how long they ran, what it holds, its leases and its Redis round trips. Each
worker process counts its own: sum them across workers.

The hot path only adds to plain numbers on the event loop (no locks, no label lookups per job);
the registry's collector turns them into metric families when Prometheus scrapes."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dtq.queue import Delivery, Failure, Settled

RUN_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
RTT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10)


class Buckets:
    """One histogram's counts (per bucket, not yet cumulative) and sum."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip([*map(str, self.bounds), "+Inf"], list(self.counts), strict=True):
            total += n
            out.append((bound, total))
        return out


def _per_task(table: dict[str, Buckets], task_type: str) -> Buckets:
    """The task type's histogram in `table`, made on first use."""
    hist = table.get(task_type)
    if hist is None:
        hist = table[task_type] = Buckets(RUN_BUCKETS)
    return hist


class WorkerMetrics(Collector):
    """The counts of one worker process; with `enabled` false (no WORKER_METRICS_PORT) the
    hooks count nothing."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.started: dict[str, int] = {}
        self.run: dict[str, Buckets] = {}
        self.wait: dict[str, Buckets] = {}
        self.failed: dict[str, int] = {}
        self.succeeded = self.retried = self.dead = self.canceled = 0
        self.reclaimed = self.fencing_refusals = self.lease_renewals = 0
        self.in_flight = 0
        self.lateness = Buckets(LATENESS_BUCKETS)
        self.redis = Buckets(RTT_BUCKETS)
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def serve(self, port: int, host: str) -> None:
        """Expose /metrics on host:port (a thread; port 0 picks a free one)."""
        start_http_server(port, addr=host, registry=self.registry)

    # --- hooks (the event loop) ---------------------------------------------------------

    def on_started(self, deliveries: list[Delivery], in_flight: int) -> None:
        """Count started attempts (and takeovers: an attempt beyond its recorded failures)."""
        if not self.enabled:
            return
        self.in_flight = in_flight
        for d in deliveries:
            self.started[d.task_type] = self.started.get(d.task_type, 0) + 1
            if d.attempt > d.failures + 1:
                self.reclaimed += 1
            if d.wait_ms is not None:
                _per_task(self.wait, d.task_type).observe(d.wait_ms / 1000)

    def on_ran(self, d: Delivery, seconds: float, outcome: object) -> None:
        """One attempt's run time, and its failure reason when it failed."""
        if not self.enabled:
            return
        _per_task(self.run, d.task_type).observe(seconds)
        if isinstance(outcome, Failure):
            self.failed[outcome.reason] = self.failed.get(outcome.reason, 0) + 1

    def on_canceled(self) -> None:
        """A job canceled while it ran here."""
        if self.enabled:
            self.canceled += 1

    def on_released(self, in_flight: int) -> None:
        """Settled outcomes freed their slots: what the worker holds now."""
        if self.enabled:
            self.in_flight = in_flight

    def on_settled(self, settled: Settled, seconds: float) -> None:
        """What a settling round trip recorded."""
        if not self.enabled:
            return
        self.redis.observe(seconds)
        self.succeeded += settled.completed
        self.retried += settled.retried
        self.dead += settled.dead
        self.fencing_refusals += settled.stale

    def on_renewed(self, count: int, lateness_s: float) -> None:
        """A lease renewal round: how many leases, how late it started."""
        if not self.enabled:
            return
        self.lease_renewals += count
        self.lateness.observe(max(0.0, lateness_s))

    # --- the scrape (the metrics server's thread) ---------------------------------------

    def collect(self) -> Iterator[Metric]:
        started = CounterMetricFamily("dtq_jobs_started", "Attempts started.", labels=["task_type"])
        for task_type, n in dict(self.started).items():
            started.add_metric([task_type], n)
        yield started
        failed = CounterMetricFamily(
            "dtq_jobs_failed", "Attempts that failed, by reason (error, timeout, ...).",
            labels=["reason"],
        )  # fmt: skip
        for reason, n in dict(self.failed).items():
            failed.add_metric([reason], n)
        yield failed
        for name, doc, value in (
            ("succeeded", "Jobs that succeeded here.", self.succeeded),
            ("retried", "Failed attempts scheduled again.", self.retried),
            ("dead", "Jobs moved to the dead-letter queue.", self.dead),
            ("canceled", "Jobs canceled while running here.", self.canceled),
            ("reclaimed", "Jobs taken over from a worker that stopped renewing.", self.reclaimed),
        ):
            yield CounterMetricFamily(f"dtq_jobs_{name}", doc, value=value)
        yield CounterMetricFamily(
            "dtq_fencing_refusals", "Outcomes refused: another worker had taken the job over.",
            value=self.fencing_refusals,
        )  # fmt: skip
        yield CounterMetricFamily(
            "dtq_lease_renewals", "Leases extended.", value=self.lease_renewals
        )
        yield GaugeMetricFamily("dtq_jobs_in_flight", "Jobs this worker holds.", self.in_flight)
        for name, doc, table in (
            ("dtq_job_run_seconds", "Handler run time.", self.run),
            ("dtq_job_wait_seconds", "Enqueue (or ready) to start, by task type.", self.wait),
        ):
            family = HistogramMetricFamily(name, doc, labels=["task_type"])
            for task_type, hist in dict(table).items():
                family.add_metric([task_type], hist.cumulative(), hist.sum)
            yield family
        for name, doc, hist in (
            ("dtq_lease_renewal_lateness_seconds", "How late a renewal round started.",
             self.lateness),
            ("dtq_redis_round_trip_seconds", "Settling round trips.", self.redis),
        ):  # fmt: skip
            family = HistogramMetricFamily(name, doc)
            family.add_metric([], hist.cumulative(), hist.sum)
            yield family
