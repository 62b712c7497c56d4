"""A worker's Prometheus metrics (served on WORKER_METRICS_PORT): what it started, how those
attempts ended, how long they ran, what it holds, its leases and its Redis round trips. Each
worker process counts its own: sum them across workers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from dtq.queue import Delivery, Failure, Settled

RUN_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
RTT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


class WorkerMetrics:
    """The counters, gauges and histograms of one worker process, in their own registry."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.started = Counter(
            "dtq_jobs_started_total", "Attempts started.", ["task_type"], registry=r
        )
        self.succeeded = Counter(
            "dtq_jobs_succeeded_total", "Jobs that succeeded here.", registry=r
        )
        self.failed = Counter(
            "dtq_jobs_failed_total",
            "Attempts that failed, by reason (error, timeout, invalid_result, ...).",
            ["reason"],
            registry=r,
        )
        self.retried = Counter(
            "dtq_jobs_retried_total", "Failed attempts scheduled again.", registry=r
        )
        self.dead = Counter(
            "dtq_jobs_dead_total", "Jobs moved to the dead-letter queue.", registry=r
        )
        self.canceled = Counter(
            "dtq_jobs_canceled_total", "Jobs canceled while running here.", registry=r
        )
        self.reclaimed = Counter(
            "dtq_jobs_reclaimed_total",
            "Jobs taken over from a worker that stopped renewing their leases.",
            registry=r,
        )
        self.fencing_refusals = Counter(
            "dtq_fencing_refusals_total",
            "Outcomes refused because another worker had taken the job over (a late completion).",
            registry=r,
        )
        self.run_seconds = Histogram(
            "dtq_job_run_seconds",
            "Handler run time.",
            ["task_type"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("dtq_jobs_in_flight", "Jobs this worker holds.", registry=r)
        self.lease_renewals = Counter("dtq_lease_renewals_total", "Leases extended.", registry=r)
        self.lease_lateness = Histogram(
            "dtq_lease_renewal_lateness_seconds",
            "How late a lease renewal round started.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10),
            registry=r,
        )
        self.redis_seconds = Histogram(
            "dtq_redis_round_trip_seconds", "Settling round trips.", buckets=RTT_BUCKETS, registry=r
        )

    def serve(self, port: int, host: str) -> None:
        """Expose /metrics on host:port (a thread; port 0 picks a free one)."""
        start_http_server(port, addr=host, registry=self.registry)

    def on_started(self, deliveries: list[Delivery]) -> None:
        """Count started attempts (and takeovers: an attempt beyond its recorded failures)."""
        for d in deliveries:
            self.started.labels(d.task_type).inc()
            if d.attempt > d.failures + 1:
                self.reclaimed.inc()

    def on_ran(self, d: Delivery, seconds: float, outcome: object) -> None:
        """One attempt's run time, and its failure reason when it failed."""
        self.run_seconds.labels(d.task_type).observe(seconds)
        if isinstance(outcome, Failure):
            self.failed.labels(outcome.reason).inc()

    def on_settled(self, settled: Settled, seconds: float) -> None:
        """What a settling round trip recorded."""
        self.redis_seconds.observe(seconds)
        self.succeeded.inc(settled.completed)
        self.retried.inc(settled.retried)
        self.dead.inc(settled.dead)
        self.fencing_refusals.inc(settled.stale)

    def on_renewed(self, count: int, lateness_s: float) -> None:
        """A lease renewal round: how many leases, how late it started."""
        self.lease_renewals.inc(count)
        self.lease_lateness.observe(max(0.0, lateness_s))
