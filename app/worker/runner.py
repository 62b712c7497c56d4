"""The worker loop: one fetch task feeding a bounded prefetch queue drained by N executors, one
settle task recording outcomes in batches, and background upkeep (leases, heartbeats, promotion
of due jobs, housekeeping)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from redis.exceptions import RedisError

from app.errors import UnknownTaskError
from app.queue import Delivery, Engine, Failure, Settled, jsontext
from app.queue.backoff import backoff_ms
from app.queue.consumer import Entry
from app.queue.housekeeping import run_housekeeping
from app.queue.job_ids import public_id
from app.worker.cancellation import listen_for_cancels, raise_if_cancelling
from app.worker.isolation import IsolatedError, run_isolated
from app.worker.lease import LeaseKeeper
from app.worker.registry import JobContext, ProgressSink, Retry, Task, TaskRegistry

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
SUMMARY_INTERVAL_S = 10.0
CLOSE_SETTLE_S = 10.0
STOP_BACKGROUND_S = 5.0
SWEEP_INTERVAL_S = 1.0


def default_worker_name() -> str:
    """host-pid-random: unique per process, readable in XINFO CONSUMERS."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}"


class Worker:
    """One consumer of the group running up to `concurrency` jobs at once."""

    def __init__(
        self,
        engine: Engine,
        registry: TaskRegistry,
        *,
        concurrency: int | None = None,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.registry = registry
        self.concurrency = concurrency or self.settings.WORKER_CONCURRENCY
        self.name = name or default_worker_name()
        self.consumer = engine.consumer(self.name)
        self.totals = Settled()
        self._prefetch: asyncio.Queue[Delivery] = asyncio.Queue()
        self._inflight: dict[tuple[int, str], Delivery] = {}
        self._slot_freed = asyncio.Event()
        self._completed: list[tuple[Delivery, bytes]] = []
        self._failed: list[Failure] = []
        self._outcome_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._closing = False
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._canceled: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dtq-sync")
        self._lease = LeaseKeeper(
            engine, self.consumer, self._inflight, self.concurrency, registry.names
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Stop taking new jobs; run() then drains in-flight work within SHUTDOWN_GRACE_S."""
        if not self._stopping.is_set():
            logger.info("worker stopping name=%s inflight=%d", self.name, len(self._inflight))
            self._stopping.set()
            self._slot_freed.set()

    async def run(self) -> None:
        """Run until stop() is called, then shut down gracefully."""
        self._loop = asyncio.get_running_loop()
        await self.engine.setup()
        await self._lease.heartbeat()
        logger.info(
            "worker started name=%s concurrency=%d tasks=%s",
            self.name,
            self.concurrency,
            ",".join(self.registry.names),
        )
        background = [
            asyncio.create_task(self._lease.run(), name="lease"),
            asyncio.create_task(self._promote_loop(), name="promote"),
            asyncio.create_task(self._housekeeping_loop(), name="housekeeping"),
            asyncio.create_task(self._summary_loop(), name="summary"),
            asyncio.create_task(
                listen_for_cancels(self.engine.redis, self.engine.keys, self.cancel_running),
                name="cancels",
            ),
        ]
        executors = [
            asyncio.create_task(self._execute_loop(), name=f"executor-{i}")
            for i in range(self.concurrency)
        ]
        settler = asyncio.create_task(self._settle_loop(), name="settle")
        try:
            await self._fetch_loop()
            await self._drain()
        finally:
            for task in executors:
                task.cancel()
            await asyncio.gather(*executors, return_exceptions=True)
            await self._close_settler(settler)
            for task in background:
                task.cancel()
            _, stuck = await asyncio.wait(background, timeout=STOP_BACKGROUND_S)
            if stuck:
                logger.error(
                    "background tasks ignored cancellation: %s",
                    ", ".join(t.get_name() for t in stuck),
                )
            await self._lease.forget()
            self._pool.shutdown(wait=False, cancel_futures=True)
            logger.info("worker stopped name=%s %s", self.name, self._summary())

    async def _close_settler(self, settler: asyncio.Task[None]) -> None:
        """Let the settle task record every outcome gathered so far, then end it."""
        self._closing = True
        self._outcome_ready.set()
        try:
            await asyncio.wait_for(settler, CLOSE_SETTLE_S)
        except Exception:  # a timeout, or the settle task had died
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

    async def _fetch_loop(self) -> None:
        reclaim_every = min(self.settings.VISIBILITY_TIMEOUT_MS / 2000, 5.0)
        next_reclaim = 0.0
        block_ms = int(min(1000, reclaim_every * 1000))
        while not self._stopping.is_set():
            raise_if_cancelling()
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                entries: list[Entry] = []
                if time.monotonic() >= next_reclaim:
                    next_reclaim = time.monotonic() + reclaim_every
                    entries, deleted = await self.consumer.reclaim(free)
                    if deleted:
                        await self._recover(deleted)
                if not entries:
                    entries = await self.consumer.read(free, block_ms)
                if self._stopping.is_set() and not entries:
                    break
                started = await self.consumer.start(entries)
                for delivery in started:
                    self._inflight[delivery.entry] = delivery
                    self._prefetch.put_nowait(delivery)
                if started and logger.isEnabledFor(logging.DEBUG):
                    for d in started:
                        logger.debug(
                            "job started job_id=%s task_type=%s attempt=%d",
                            d.job_id,
                            d.task_type,
                            d.attempt,
                        )
            except RedisError as exc:
                raise_if_cancelling()
                logger.warning("fetch failed, retrying in 1 s error=%s", exc)
                await asyncio.sleep(1)

    async def _recover(self, deleted: list[tuple[int, str]]) -> None:
        requeued = await self.consumer.recover_deleted(deleted)
        logger.warning(
            "reclaim found deleted stream entries count=%d requeued=%d", len(deleted), requeued
        )

    # --- executing ----------------------------------------------------------------------

    async def _execute_loop(self) -> None:
        while True:
            await self._execute(await self._prefetch.get())

    async def _execute(self, d: Delivery) -> None:
        """Run one job and gather its outcome; a job canceled meanwhile leaves no outcome."""
        task = self.registry.get(d.task_type)
        timeout = d.timeout_s or (task.timeout_s if task else None)
        timer = asyncio.timeout(timeout) if timeout else None
        this = asyncio.current_task()
        assert this is not None
        self._running[d.job_id] = this
        try:
            if timer is None:
                result = await self._invoke(task, d)
            else:
                async with timer:
                    result = await self._invoke(task, d)
            self._completed.append((d, jsontext.dumps(result)))
        except asyncio.CancelledError:
            if d.job_id not in self._canceled:
                raise  # shutdown: the job stays unacknowledged and is reclaimed
            self._forget_canceled(d)
            if this.uncancel() > 0:
                raise  # the worker is being stopped as well
            return
        except TimeoutError as exc:
            if timer is None or not timer.expired():
                self._fail(d, exc)
            else:
                error = f"TimeoutError: the attempt ran past timeout_s={timeout:g}"
                self._failed.append(Failure(d, error, self._backoff(d), "timeout"))
        except Retry as exc:
            delay = self._backoff(d) if exc.delay is None else int(exc.delay * 1000)
            self._failed.append(Failure(d, f"Retry: {exc}", delay))
        except Exception as exc:  # a handler error fails its job, not the worker
            self._fail(d, exc)
        finally:
            self._running.pop(d.job_id, None)
        self._outcome_ready.set()

    async def _invoke(self, task: Task | None, d: Delivery) -> Any:
        if task is None:
            raise UnknownTaskError(
                f"no handler for task type {d.task_type!r} on worker {self.name}"
            )
        payload = orjson.loads(d.payload)
        parents = (
            await self.engine.dependencies.parent_results(d.depends_on) if d.depends_on else {}
        )
        job_id = public_id(d.job_id)  # the id its tenant knows it by
        if task.isolated:  # the child process gets a context without a progress sink
            ctx = JobContext(
                job_id, d.task_type, d.attempt, d.failures, d.max_retries, self.name, parents
            )
            return await run_isolated(task, ctx, payload, self._pool)
        ctx = JobContext(
            job_id,
            d.task_type,
            d.attempt,
            d.failures,
            d.max_retries,
            self.name,
            parents,
            self._progress_sink(d),
            self._loop,
        )
        if task.is_async:
            return await task.fn(ctx, payload)
        return await asyncio.get_running_loop().run_in_executor(self._pool, task.fn, ctx, payload)

    def _progress_sink(self, d: Delivery) -> ProgressSink:
        async def report(percent: float, message: str) -> None:
            if not await self.consumer.report_progress(d, percent, message):
                logger.warning("progress refused, the job moved on job_id=%s", d.job_id)

        return report

    def _fail(self, d: Delivery, exc: Exception) -> None:
        text = str(exc) if isinstance(exc, IsolatedError) else f"{type(exc).__name__}: {exc}"
        self._failed.append(Failure(d, text[:MAX_ERROR_CHARS], self._backoff(d)))

    def cancel_running(self, job_id: str) -> None:
        """Stop the handler of a job canceled while it runs here (its entry is acked already)."""
        task = self._running.get(job_id)
        if task is not None:
            self._canceled.add(job_id)
            task.cancel()

    def _forget_canceled(self, d: Delivery) -> None:
        self._canceled.discard(d.job_id)
        self._inflight.pop(d.entry, None)
        self._slot_freed.set()
        logger.info("job canceled while running job_id=%s attempt=%d", d.job_id, d.attempt)

    def _backoff(self, d: Delivery) -> int:
        s = self.settings
        return backoff_ms(d.failures + 1, s.INITIAL_BACKOFF_MS, s.MAX_BACKOFF_MS)

    # --- settling -----------------------------------------------------------------------

    async def _settle_loop(self) -> None:
        """Record outcomes in batches: whatever gathered while the previous round trip ran."""
        while True:
            await self._outcome_ready.wait()
            raise_if_cancelling()
            self._outcome_ready.clear()
            try:
                await self._flush()
            except RedisError as exc:
                raise_if_cancelling()
                logger.warning("settle failed, retrying in 0.5 s error=%s", exc)
                await asyncio.sleep(0.5)
                self._outcome_ready.set()
                continue
            if self._closing and not (self._completed or self._failed):
                return

    async def _flush(self) -> None:
        """Record every outcome gathered so far in one round trip."""
        completed, failed = self._completed, self._failed
        if not completed and not failed:
            return
        self._completed, self._failed = [], []
        try:
            settled = await self.consumer.settle(completed, failed)
        except BaseException:
            self._completed[:0], self._failed[:0] = completed, failed
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
            for d, _ in completed:
                logger.debug(
                    "job settled job_id=%s attempt=%d outcome=success", d.job_id, d.attempt
                )
            for f in failed:
                logger.debug(
                    "job settled job_id=%s attempt=%d outcome=failure error=%s",
                    f.delivery.job_id,
                    f.delivery.attempt,
                    f.error[:200],
                )
        for d, _ in completed:
            self._inflight.pop(d.entry, None)
        for f in failed:
            self._inflight.pop(f.delivery.entry, None)
        self._slot_freed.set()
        if settled.parents:
            try:
                await self.engine.dependencies.release(settled.parents)
            except RedisError as exc:  # they stay in the outbox; the promote loop sweeps them
                raise_if_cancelling()
                logger.warning("releasing dependents failed, sweep will retry error=%s", exc)

    # --- upkeep -------------------------------------------------------------------------

    async def _promote_loop(self) -> None:
        interval = self.settings.PROMOTE_INTERVAL_MS / 1000
        next_sweep = 0.0
        while True:
            raise_if_cancelling()
            try:
                promoted, next_due_ms = await self.consumer.promote_due()
                if promoted:
                    logger.debug("promoted due jobs count=%d", promoted)
                if await self.engine.schedules.fire_due():
                    next_due_ms = 0  # the submitted jobs may be delayed ones: look again soon
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_INTERVAL_S
                    await self.engine.dependencies.sweep()
                    await self.consumer.trim_acknowledged()
            except RedisError as exc:
                raise_if_cancelling()
                logger.warning("promote failed, retrying in 1 s error=%s", exc)
                await asyncio.sleep(1)
                continue
            wait = interval if next_due_ms is None else min(interval, next_due_ms / 1000)
            await asyncio.sleep(max(wait, 0.001))

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.HOUSEKEEPING_INTERVAL_S)
            raise_if_cancelling()
            try:
                await run_housekeeping(
                    self.engine.redis, self.engine.keys, self.engine.scripts, self.settings
                )
            except RedisError as exc:
                raise_if_cancelling()
                logger.warning("housekeeping failed error=%s", exc)

    def _summary(self) -> str:
        t = self.totals
        return (
            f"completed={t.completed} retried={t.retried} dead={t.dead} stale={t.stale} "
            f"inflight={len(self._inflight)}"
        )

    async def _summary_loop(self) -> None:
        last = 0
        while True:
            await asyncio.sleep(SUMMARY_INTERVAL_S)
            done = self.totals.completed
            logger.info(
                "worker summary name=%s %s rate=%.0f/s",
                self.name,
                self._summary(),
                (done - last) / SUMMARY_INTERVAL_S,
            )
            last = done
