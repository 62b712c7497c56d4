"""The API's Prometheus metrics: its own requests (by route and status), their latency, 429s by
tenant and live-feed clients, plus the queue's state read from Redis at scrape time. The state
is read at most once per METRICS_CACHE_S across all API instances (the first scrape stores a
snapshot in Redis with that expiry; the others read it), so gauges agree between instances:
query them with max(), not sum()."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtq.config import Settings
from dtq.queue import Shards, shard_views

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class QueueState(Collector):
    """Gauges from the latest snapshot (set by `refresh` just before each exposition)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}
        self.feed_clients = 0

    def unavailable(self) -> None:
        """Redis could not be read: no queue gauges this time, dtq_queue_state_up 0."""
        self.snapshot = {}

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield GaugeMetricFamily(
            "dtq_queue_state_up", "1 when this scrape could read the queue's state from Redis.",
            value=1 if s else 0,
        )  # fmt: skip
        feed = GaugeMetricFamily("dtq_feed_clients", "Live-feed WebSockets on this process.")
        feed.add_metric([], self.feed_clients)
        yield feed
        if not s:
            return
        jobs = GaugeMetricFamily("dtq_queue_jobs", "Jobs by status.", labels=["status"])
        for status, n in s["jobs_by_status"].items():
            jobs.add_metric([status], n)
        yield jobs
        length = GaugeMetricFamily(
            "dtq_stream_length", "Job stream entries by priority.", labels=["priority"]
        )
        for priority, n in s["stream_length_by_priority"].items():
            length.add_metric([priority], n)
        yield length
        for name, doc in (
            ("pending_entries", "Entries delivered to a worker and not acknowledged."),
            ("consumer_group_lag", "Entries not yet delivered to any worker."),
            ("scheduled", "Jobs waiting for their time (delayed, retrying)."),
            ("dlq_depth", "Jobs in the dead-letter queue."),
            ("live_workers", "Workers that heartbeated within three intervals."),
        ):
            g = GaugeMetricFamily(f"dtq_{name}", doc)
            g.add_metric([], s[name])
            yield g
        oldest = GaugeMetricFamily(
            "dtq_oldest_pending_age_seconds",
            "Age of each queue's oldest job not yet delivered to a worker (0: none).",
            labels=["queue"],
        )
        pending = GaugeMetricFamily(
            "dtq_queue_pending", "Jobs waiting, by queue.", labels=["queue"]
        )
        for q in s["queues"]:
            oldest.add_metric([q["name"]], q["oldest_age_s"])
            pending.add_metric([q["name"]], q["pending"])
        yield oldest
        yield pending
        queued = GaugeMetricFamily(
            "dtq_tenant_queued", "Jobs in each tenant's lanes.", labels=["tenant"]
        )
        running = GaugeMetricFamily(
            "dtq_tenant_running", "Jobs each tenant has running.", labels=["tenant"]
        )
        cap = GaugeMetricFamily(
            "dtq_tenant_max_concurrency", "Each tenant's cap (0: none).", labels=["tenant"]
        )
        for t in s["tenants"]:
            queued.add_metric([t["name"]], t["queued"])
            running.add_metric([t["name"]], t["running"])
            cap.add_metric([t["name"]], t["max_concurrency"] or 0)
        yield queued
        yield running
        yield cap


class ApiMetrics:
    """One API process's registry: request counters and latency, 429s, the queue state."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "dtq_http_requests_total",
            "Requests answered.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "dtq_http_request_duration_seconds",
            "Time to answer, by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "dtq_rate_limited_total",
            "Submissions refused with 429, by tenant.",
            ["tenant"],
            registry=r,
        )
        self.queue = QueueState()
        r.register(self.queue)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        children = self._children.get((method, route, status))
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    async def refresh(self, shards: Shards, settings: Settings, feed_clients: int) -> None:
        """Load the queue-state snapshot of every shard (from Redis's cache on the control
        shard, or read and cache it)."""
        self.queue.feed_clients = feed_clients
        engine = shards.control
        key = f"{engine.keys.base}:metrics:snapshot"
        if settings.METRICS_CACHE_S > 0:
            cached = await engine.redis.get(key)
            if cached:
                self.queue.snapshot = orjson.loads(cached)
                return
        stats = await shard_views.all_stats(shards)  # tenants: those with jobs queued or running
        queues = await shard_views.all_queues(shards)
        seconds, micros = await engine.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        snapshot = stats.model_dump(mode="json", include={
            "jobs_by_status", "stream_length_by_priority", "pending_entries",
            "consumer_group_lag", "scheduled", "dlq_depth", "live_workers", "tenants",
        })  # fmt: skip
        snapshot["queues"] = [
            {
                "name": q.name,
                "pending": q.pending,
                "oldest_age_s": (now_ms - q.oldest_pending_at) / 1000 if q.oldest_pending_at else 0,
            }
            for q in queues
        ]
        self.queue.snapshot = snapshot
        if settings.METRICS_CACHE_S > 0:
            await engine.redis.set(
                key, orjson.dumps(snapshot), px=int(settings.METRICS_CACHE_S * 1000)
            )


COUNTED = "dtq.counted"  # in a request's scope once a RequestMetrics has counted it


class RequestMetrics:
    """ASGI middleware counting each HTTP request by its route template and status, once: a
    request it passes to an app that counts it too is counted there."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if not scope.get(COUNTED):
                scope[COUNTED] = True
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                self.metrics.count(scope["method"], route, status, time.perf_counter() - began)
