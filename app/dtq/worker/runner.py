"""The worker loop: one fetch task feeding a bounded prefetch queue drained by N executors, one
settle task recording outcomes in batches, and upkeep beside them (leases, heartbeats, due jobs,
tidying, housekeeping, cancels), all in one TaskGroup."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from dtq.models import DEFAULT_QUEUE
from dtq.queue import (
    Delivery,
    Engine,
    Entry,
    Failure,
    Settled,
    is_redis_failure,
    raise_if_cancelling,
    repeat,
)
from dtq.tracing import job_span, tracing_enabled
from dtq.worker.capacity import Capacity
from dtq.worker.execution import Execution
from dtq.worker.lease import LeaseKeeper
from dtq.worker.metrics import WorkerMetrics
from dtq.worker.registry import TaskRegistry
from dtq.worker.report import Report
from dtq.worker.upkeep import Upkeep

logger = logging.getLogger(__name__)

CLOSE_SETTLE_S = 10.0
STOP_BACKGROUND_S = 5.0


_named = itertools.count()  # workers named in this process so far


def default_worker_name() -> str:
    """host-pid-random, then how many this process named before (so two Workers in one
    process never share a name, which 16 random bits alone allowed once in 65,536 pairs: a
    shared consumer name is a shared pending list); readable in XINFO CONSUMERS."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}{next(_named)}"


class Worker:
    """One consumer of one shard, running up to `concurrency` jobs at once from the queues it
    listens to (with `capacity`, the slots it shares with the Workers of the other shards).

    `queues` (default: its tasks' queues, see TaskRegistry.listen_to) are read in order, or
    drawn by `weights`; it runs only the task types of `registry` and hands back any other.
    """

    def __init__(
        self,
        engine: Engine,
        registry: TaskRegistry,
        *,
        concurrency: int | None = None,
        name: str | None = None,
        queues: Sequence[str] | None = None,
        weights: Sequence[int] | None = None,
        capacity: Capacity | None = None,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.registry = registry
        self._capacity = capacity or Capacity(concurrency or self.settings.WORKER_CONCURRENCY)
        self._owns_capacity = capacity is None
        self.concurrency = self._capacity.size
        self.name = name or default_worker_name()
        self.queues = list(queues or registry.listen_to or [DEFAULT_QUEUE])
        self.consumer = engine.consumer(
            self.name, self.queues, weights=weights, serves=registry.names
        )
        self.totals = Settled()
        self.metrics = metrics or WorkerMetrics(enabled=self.settings.WORKER_METRICS_PORT > 0)
        self._prefetch: asyncio.Queue[Delivery] = asyncio.Queue()
        self._inflight: dict[tuple[str, int, str, str], Delivery] = {}
        self._capacity.hold(self._inflight)
        self._slot_freed = self._capacity.freed
        self._completed: list[tuple[Delivery, bytes]] = []
        self._failed: list[Failure] = []
        self._outcome_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closing = False
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._canceled: set[str] = set()
        self._pool = self._capacity.pool
        self._lease = LeaseKeeper(
            engine, self.consumer, self._inflight, self.concurrency, registry.names, self.queues,
            on_renewed=self.metrics.on_renewed,
        )  # fmt: skip
        self._execution = Execution(engine, self.consumer, registry, self._pool)
        self._next_reclaim = 0.0
        self._tracing = tracing_enabled()
        self._report = Report(self.name, engine.keys.shard, self.totals, self._inflight)

    def stop(self) -> None:
        """Stop taking new jobs; run() then drains in-flight work within SHUTDOWN_GRACE_S."""
        if not self._stopping.is_set():
            logger.info("worker stopping name=%s inflight=%d", self.name, len(self._inflight))
            self._stopping.set()
            self._slot_freed.set()

    async def run(self) -> None:
        """Run until stop() is called, then shut down gracefully."""
        await self.engine.setup(self.queues)
        await self.engine.queues.register(self.queues, self.registry.queues)
        await self._lease.heartbeat()
        logger.info(
            "worker started name=%s shard=%s concurrency=%d queues=%s tasks=%s",
            self.name,
            self.engine.keys.shard,
            self.concurrency,
            ",".join(self.queues),
            ",".join(self.registry.names),
        )
        upkeep = Upkeep(self.engine)
        try:
            async with asyncio.TaskGroup() as tg:
                background = [
                    tg.create_task(self._lease.run(), name="lease"),
                    tg.create_task(upkeep.due(), name="due"),
                    tg.create_task(upkeep.tidy(), name="tidy"),
                    tg.create_task(upkeep.housekeeping(), name="housekeeping"),
                    tg.create_task(upkeep.cancels(self.cancel_running), name="cancels"),
                    tg.create_task(self._report.run(), name="summary"),
                ]
                executors = [
                    tg.create_task(self._execute_loop(), name=f"executor-{i}")
                    for i in range(self.concurrency)
                ]
                settler = tg.create_task(self._settle_loop(), name="settle")
                await repeat("fetch", self._fetch)
                await self._drain()
                await _cancel_all(executors)
                await self._close_settler(settler)
                await _cancel_all(background, STOP_BACKGROUND_S)
        except Exception:  # a loop failed: the worker stops (and its jobs are reclaimed)
            logger.critical("worker stopping: a loop failed unexpectedly", exc_info=True)
            raise
        finally:
            await self._lease.forget()
            if self._owns_capacity:
                self._capacity.close()
            logger.info("worker stopped name=%s %s", self.name, self._report.line())

    async def _close_settler(self, settler: asyncio.Task[None]) -> None:
        """Let the settle task record every outcome gathered so far, then end it."""
        self._closing = True
        self._outcome_ready.set()
        try:
            await asyncio.wait_for(asyncio.shield(settler), CLOSE_SETTLE_S)
        except TimeoutError:
            settler.cancel()
            logger.warning(
                "could not record every outcome before stopping; "
                "those jobs will be reclaimed and run again"
            )

    async def _drain(self) -> None:
        """Wait up to SHUTDOWN_GRACE_S for in-flight jobs; the rest are cancelled, never acked."""
        deadline = time.monotonic() + self.settings.SHUTDOWN_GRACE_S
        while self._inflight and time.monotonic() < deadline:
            self._slot_freed.clear()
            try:
                await asyncio.wait_for(self._slot_freed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        if self._inflight:
            logger.warning(
                "grace period over; cancelling jobs that stay unacknowledged count=%d",
                len(self._inflight),
            )

    # --- fetching -----------------------------------------------------------------------

    async def _fetch(self) -> float | None:
        """One fetch: reclaim (now and then) or read, then start; None once stopping."""
        if self._stopping.is_set():
            return None
        free = self._capacity.reserve(self.concurrency)
        if free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return 0
        held = [free]  # slots still reserved (a shared wait gives them back)
        try:
            entries = await self._take(free, held)
            if self._stopping.is_set() and not entries:
                return None
            await self._start(entries)
        finally:
            self._capacity.release(held[0])
        return 0

    async def _take(self, free: int, held: list[int]) -> list[Entry]:
        """Reclaimed entries (now and then) or new ones, up to `free` (reserved; `held[0]` says
        how many still are)."""
        reclaim_every = min(self.settings.VISIBILITY_TIMEOUT_MS / 2000, 5.0)
        entries: list[Entry] = []
        if time.monotonic() >= self._next_reclaim:
            self._next_reclaim = time.monotonic() + reclaim_every
            entries, deleted = await self.consumer.reclaim(free)
            if deleted:
                requeued = await self.consumer.recover_deleted(deleted)
                logger.warning(
                    "reclaim found deleted stream entries count=%d requeued=%d",
                    len(deleted),
                    requeued,
                )
        if entries:
            return entries
        block_ms = int(min(1000, reclaim_every * 1000))
        if not self._capacity.shared:
            return await self.consumer.read(free, block_ms)
        # Shared slots: read what is there now; wait for more holding none of them, so that
        # other shards' Workers may use them meanwhile (the next fetch reads what came).
        entries = await self.consumer.read(free, 0)
        if not entries and not self._stopping.is_set():
            self._capacity.release(free)
            held[0] = 0
            await self.consumer.wait(block_ms)
        return entries

    async def _start(self, entries: list[Entry]) -> None:
        """Start the entries read and hand them to the executors."""
        started = await self.consumer.start(entries)
        self.metrics.on_started(started, self._capacity.held() + len(started))
        for d in started:
            self._inflight[d.key] = d
            self._prefetch.put_nowait(d)
        if started and logger.isEnabledFor(logging.DEBUG):
            for d in started:
                logger.debug(
                    "job started job_id=%s task_type=%s attempt=%d",
                    d.public_id,
                    d.task_type,
                    d.attempt,
                )

    # --- executing ----------------------------------------------------------------------

    async def _execute_loop(self) -> None:
        while True:
            await self._execute(await self._prefetch.get())

    async def _execute(self, d: Delivery) -> None:
        """Run one job and gather its outcome; a job canceled meanwhile leaves no outcome."""
        this = asyncio.current_task()
        assert this is not None
        self._running[d.job_id] = this
        began = time.monotonic()
        try:
            traced = self._tracing and d.trace_id
            outcome = await (self._run_traced(d) if traced else self._execution.run(d))
        except asyncio.CancelledError:
            if d.job_id not in self._canceled:
                raise  # shutdown: the job stays unacknowledged and is reclaimed
            self._forget_canceled(d)
            self.metrics.on_canceled()
            if this.uncancel() > 0:
                raise  # the worker is being stopped as well
            return
        finally:
            self._running.pop(d.job_id, None)
        self.metrics.on_ran(d, time.monotonic() - began, outcome)
        if isinstance(outcome, Failure):
            self._failed.append(outcome)
        else:
            self._completed.append((d, outcome))
        self._outcome_ready.set()

    async def _run_traced(self, d: Delivery) -> bytes | Failure:
        """Run one attempt in a span joined to the submitter's trace (its traceparent)."""
        attributes = {
            "dtq.job_id": d.public_id,
            "dtq.task_type": d.task_type,
            "dtq.attempt": d.attempt,
            "dtq.queue": d.queue,
            "dtq.tenant": d.tenant,
            "dtq.worker": self.name,
        }
        with job_span(f"dtq.job {d.task_type}", d.trace_id, attributes) as span:
            outcome = await self._execution.run(d)
            if span is not None:
                span.set_attribute(
                    "dtq.outcome", outcome.reason if isinstance(outcome, Failure) else "succeeded"
                )
            return outcome

    def cancel_running(self, job_id: str) -> None:
        """Stop the handler of a job canceled while it runs here (its own entry is acked already;
        a shared one is acked once none of its jobs runs here)."""
        task = self._running.get(job_id)
        if task is not None:
            self._canceled.add(job_id)
            task.cancel()

    def _forget_canceled(self, d: Delivery) -> None:
        self._canceled.discard(d.job_id)
        self._inflight.pop(d.key, None)
        self.consumer.dropped(d)
        self._outcome_ready.set()  # the settler acks its entry if it was the last of it here
        self._slot_freed.set()
        logger.info("job canceled while running job_id=%s attempt=%d", d.public_id, d.attempt)

    # --- settling -----------------------------------------------------------------------

    async def _settle(self) -> float | None:
        """Record whatever outcomes gathered while the previous round trip ran."""
        await self._outcome_ready.wait()
        self._outcome_ready.clear()
        await self._flush()
        if self._closing and not (self._completed or self._failed):
            return None
        return 0

    async def _settle_loop(self) -> None:
        await repeat("settle", self._settle, retry_after_s=0.5)

    async def _flush(self) -> None:
        """Record every outcome gathered so far in one round trip."""
        completed, failed = self._completed, self._failed
        if not completed and not failed:
            await self.consumer.ack_dropped()
            return
        self._completed, self._failed = [], []
        try:
            began = time.monotonic()
            settled = await self.consumer.settle(completed, failed)
            self.metrics.on_settled(settled, time.monotonic() - began)
        except BaseException:
            self._completed[:0], self._failed[:0] = completed, failed
            self._outcome_ready.set()  # try again
            raise
        t = self.totals
        t.completed += settled.completed
        t.retried += settled.retried
        t.dead += settled.dead
        t.stale += settled.stale
        if settled.stale:
            logger.warning(
                "refused stale completions count=%d (jobs were reclaimed)", settled.stale
            )
        if logger.isEnabledFor(logging.DEBUG):
            _log_settled(completed, failed)
        for d, _ in completed:
            self._inflight.pop(d.key, None)
        for f in failed:
            self._inflight.pop(f.delivery.key, None)
        self.metrics.on_released(self._capacity.held())
        self._slot_freed.set()
        if settled.parents:
            await self._release(settled.parents)

    async def _release(self, parents: list[str]) -> None:
        try:
            await self.engine.dependencies.release(parents)
        except Exception as exc:  # they stay in the outbox, which the tidy loop sweeps
            if not is_redis_failure(exc):
                raise
            raise_if_cancelling()
            logger.warning("releasing dependents failed, tidy will sweep error=%s", exc)


def _log_settled(completed: list[tuple[Delivery, bytes]], failed: list[Failure]) -> None:
    for d, _ in completed:
        logger.debug("job settled job_id=%s attempt=%d outcome=success", d.public_id, d.attempt)
    for f in failed:
        logger.debug(
            "job settled job_id=%s attempt=%d outcome=failure error=%s",
            f.delivery.public_id,
            f.delivery.attempt,
            f.error[:200],
        )


async def _cancel_all(tasks: list[asyncio.Task[None]], timeout: float | None = None) -> None:
    """Cancel tasks and wait for them (logging any that ignore the cancellation)."""
    for task in tasks:
        task.cancel()
    _, stuck = await asyncio.wait(tasks, timeout=timeout)
    if stuck:
        logger.error("tasks ignored cancellation: %s", ", ".join(t.get_name() for t in stuck))
