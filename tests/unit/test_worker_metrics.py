"""A worker's metrics: the hooks' plain counts come out as Prometheus families on a scrape."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dtq.queue import Delivery, Failure, Settled
from dtq.worker.metrics import WorkerMetrics


def _delivery(task_type: str, attempt: int = 1, failures: int = 0) -> Delivery:
    wait = 40 if attempt == 1 else None
    return Delivery("j1", "1-0", attempt, failures, 3, task_type, "{}", wait_ms=wait)


def _samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip


def test_hooks_become_families() -> None:
    m = WorkerMetrics()
    m.on_started([_delivery("email"), _delivery("email", attempt=2), _delivery("resize")], 3)
    m.on_ran(_delivery("email"), 0.003, b"{}")
    m.on_ran(_delivery("email"), 2.0, Failure(_delivery("email"), "boom", 100, reason="timeout"))
    m.on_settled(Settled(completed=1, retried=1, stale=1), 0.0015)
    m.on_renewed(3, 0.2)
    got = _samples(m)
    assert got[("dtq_jobs_started_total", (("task_type", "email"),))] == 2
    assert got[("dtq_jobs_reclaimed_total", ())] == 1  # attempt 2 after no recorded failure
    assert got[("dtq_jobs_failed_total", (("reason", "timeout"),))] == 1
    assert got[("dtq_jobs_succeeded_total", ())] == 1
    assert got[("dtq_fencing_refusals_total", ())] == 1
    assert got[("dtq_jobs_in_flight", ())] == 3
    assert got[("dtq_job_run_seconds_bucket", (("le", "0.005"), ("task_type", "email")))] == 1
    assert got[("dtq_job_run_seconds_bucket", (("le", "+Inf"), ("task_type", "email")))] == 2
    assert got[("dtq_job_run_seconds_count", (("task_type", "email"),))] == 2
    assert abs(got[("dtq_job_run_seconds_sum", (("task_type", "email"),))] - 2.003) < 1e-9
    assert got[("dtq_lease_renewals_total", ())] == 3
    assert got[("dtq_job_wait_seconds_bucket", (("le", "0.05"), ("task_type", "email")))] == 1
    assert got[("dtq_job_wait_seconds_count", (("task_type", "resize"),))] == 1


def test_disabled_counts_nothing() -> None:
    m = WorkerMetrics(enabled=False)
    m.on_started([_delivery("email")], 1)
    m.on_settled(Settled(completed=5), 0.001)
    got = _samples(m)
    assert got[("dtq_jobs_succeeded_total", ())] == 0
    assert ("dtq_jobs_started_total", (("task_type", "email"),)) not in got
