"""Running one job: its handler with its context, under its timeout, in-process, in the thread
pool or isolated in a child process; the outcome is its result (JSON) or a Failure."""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import Executor
from typing import Any

import orjson

from dtq import jsontext
from dtq.errors import InvalidPayloadError, UnknownTaskError
from dtq.queue import Consumer, Delivery, Engine, Failure, backoff_ms
from dtq.worker.isolation import (
    EncodedResult,
    IsolatedError,
    IsolatedInvalidResult,
    run_isolated,
)
from dtq.worker.registry import JobContext, ProgressSink, Retry, Task, TaskRegistry
from dtq.worker.tracebacks import MAX_ERROR_CHARS, error_line, handler_traceback

logger = logging.getLogger(__name__)


def _invalid_result(d: Delivery, type_name: str, detail: str) -> Failure:
    """A result that is not JSON: the job dies at once, for its handler ran to the end and a
    retry would repeat its side effects."""
    error = (
        f"InvalidResultError: the handler returned {type_name}, which is not JSON ({detail}); "
        "return dicts, lists, strings, numbers, booleans or None. Not retried: the handler's "
        "side effects happened"
    )
    return Failure(d, error[:MAX_ERROR_CHARS], 0, "invalid_result")


def _failed(f: Failure) -> Failure:
    """Log a failed attempt (WARNING with the job and the error's first line; DEBUG adds the
    traceback) and return it."""
    d = f.delivery
    logger.warning(
        "job attempt failed job_id=%s task_type=%s attempt=%d reason=%s error=%s",
        d.public_id,
        d.task_type,
        d.attempt,
        f.reason,
        f.error.split("\n", 1)[0][:300],
    )
    if f.traceback and logger.isEnabledFor(logging.DEBUG):
        logger.debug("job attempt traceback job_id=%s\n%s", d.public_id, f.traceback)
    return f


class Execution:
    """Runs deliveries for one worker."""

    def __init__(
        self, engine: Engine, consumer: Consumer, registry: TaskRegistry, pool: Executor
    ) -> None:
        self._engine = engine
        self._settings = engine.settings
        self._consumer = consumer
        self._registry = registry
        self._pool = pool

    async def run(self, d: Delivery) -> bytes | Failure:
        """The job's result as JSON text, or the Failure to record (each failure is logged by
        `_failed`). A cancel of this task (the job was canceled, or the worker stops) propagates
        as CancelledError."""
        task = self._registry.get(d.task_type)
        timeout = d.timeout_s or (task.timeout_s if task else None)
        timer = asyncio.timeout(timeout) if timeout else None
        try:
            if timer is None:
                result = await self._invoke(task, d)
            else:
                async with timer:
                    result = await self._invoke(task, d)
        except TimeoutError as exc:
            if timer is None or not timer.expired():
                return _failed(self._failure(d, exc))
            error = f"TimeoutError: the attempt ran past timeout_s={timeout:g}"
            return _failed(Failure(d, error, self._backoff(d), "timeout", handler_traceback(exc)))
        except Retry as exc:
            delay = self._backoff(d) if exc.delay is None else int(exc.delay * 1000)
            return _failed(Failure(d, f"Retry: {exc}", delay))
        except IsolatedInvalidResult as exc:
            return _failed(_invalid_result(d, exc.type_name, str(exc)))
        except InvalidPayloadError as exc:  # the payload will never fit: no retry
            return _failed(Failure(d, error_line(exc), 0, "invalid_payload"))
        except Exception as exc:  # a handler error fails its job, not the worker
            return _failed(self._failure(d, exc))
        if isinstance(result, EncodedResult):
            return result.json
        try:
            return jsontext.dumps(result)
        except (TypeError, ValueError, InvalidPayloadError) as exc:  # a set, a cycle, bad text
            return _failed(_invalid_result(d, type(result).__name__, str(exc)))

    async def _invoke(self, task: Task | None, d: Delivery) -> Any:
        if task is None:
            raise UnknownTaskError(
                f"no handler for task type {d.task_type!r} on worker {self._consumer.name}"
            )
        payload = orjson.loads(d.payload)
        deps = self._engine.dependencies
        parents = await deps.parent_results(d.depends_on) if d.depends_on else {}
        name = self._consumer.name
        job_id = d.public_id
        if task.isolated:  # the child process gets a context without a progress sink
            ctx = JobContext(
                job_id, d.task_type, d.attempt, d.failures, d.max_retries, name, parents
            )
            return await run_isolated(task, ctx, payload, self._pool)
        loop = asyncio.get_running_loop()
        sink = self._progress_sink(d)
        ctx = JobContext(
            job_id, d.task_type, d.attempt, d.failures, d.max_retries, name, parents, sink, loop
        )
        if task.shape.kind == "dict":  # the common shape, without unpacking
            if task.is_async:
                return await task.fn(ctx, payload)
            return await loop.run_in_executor(self._pool, task.fn, ctx, payload)
        args, kwargs = task.shape.arguments(payload)
        if task.is_async:
            return await task.fn(ctx, *args, **kwargs)
        return await loop.run_in_executor(
            self._pool, functools.partial(task.fn, ctx, *args, **kwargs)
        )

    def _progress_sink(self, d: Delivery) -> ProgressSink:
        async def report(percent: float, message: str) -> None:
            if not await self._consumer.report_progress(d, percent, message):
                logger.warning("progress refused, the job moved on job_id=%s", d.public_id)

        return report

    def _failure(self, d: Delivery, exc: Exception) -> Failure:
        if isinstance(exc, IsolatedError):
            return Failure(d, str(exc)[:MAX_ERROR_CHARS], self._backoff(d), "error", exc.traceback)
        return Failure(d, error_line(exc), self._backoff(d), "error", handler_traceback(exc))

    def _backoff(self, d: Delivery) -> int:
        s = self._settings
        return backoff_ms(d.failures + 1, s.INITIAL_BACKOFF_MS, s.MAX_BACKOFF_MS)
