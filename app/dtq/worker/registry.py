"""Task registry: handlers by task type, the decorator that registers them, and module loading."""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from dtq.errors import InvalidPayloadError
from dtq.models import DEFAULT_QUEUE, QUEUE_PATTERN, TASK_TYPE_PATTERN, JobCreate
from dtq.worker.signatures import PayloadShape

JsonPayload = dict[str, Any]


class ProgressSink(Protocol):
    """Where a handler's progress reports go (the worker records them on the job)."""

    async def __call__(self, percent: float, message: str, /) -> None: ...


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler knows about the job it runs, and how it reports progress."""

    job_id: str
    task_type: str
    attempt: int
    failures: int
    max_retries: int
    worker: str
    parents: dict[str, Any] = field(default_factory=dict)
    """The results of the job's parents (depends_on), by parent id."""
    sink: ProgressSink | None = field(default=None, repr=False, compare=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)

    async def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100): stored on the job and sent as an event."""
        if self.sink is None:
            raise RuntimeError("progress reports are not available here (isolated handler?)")
        await self.sink(percent, message)

    def progress_sync(self, percent: float, message: str = "") -> None:
        """progress() for plain `def` handlers, which run in the worker's thread pool."""
        if self.sink is None or self.loop is None:
            raise RuntimeError("progress reports are not available here (isolated handler?)")
        asyncio.run_coroutine_threadsafe(self.sink(percent, message), self.loop).result(10)


class Handler(Protocol):
    """A task handler: `async def` or plain `def`, called as handler(ctx, payload), or with the
    payload as a pydantic model or as keyword arguments (see signatures.py).

    Its return value must be JSON-serializable; it becomes the job's result.
    """

    def __call__(self, ctx: JobContext, /, *args: Any, **kwargs: Any) -> Any: ...


class Retry(Exception):
    """Raise from a handler to retry the job after `delay` seconds (default: the backoff).

    The attempt counts against the job's max_retries like any failure.
    """

    def __init__(self, delay: float | None = None, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Task:
    """A registered handler and how to run it."""

    name: str
    fn: Handler
    is_async: bool
    timeout_s: float | None = None
    isolated: bool = False
    queue: str | None = None
    shape: PayloadShape = field(default_factory=lambda: PayloadShape("dict"))


class TaskHandle:
    """What `@tasks.task()` leaves in place of the handler: call it as the function, or submit
    jobs of it with the handler's own arguments, checked against its signature first:

        job = send_email.enqueue(dtq, to="ada@example.com")        # DTQClient: over HTTP
        job = await send_email.enqueue(async_dtq, to="ada@...")     # AsyncDTQClient
        job = await send_email.enqueue(engine, to="ada@...")        # an Engine: straight to Redis
        send_email.options(priority="high", delay_ms=5000).enqueue(dtq, to=...)
    """

    __name__: str
    __wrapped__: Handler

    def __init__(self, fn: Handler, task: Task, options: dict[str, Any] | None = None) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self.task = task
        self._options = options or {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def options(self, **options: Any) -> TaskHandle:
        """The same task with submission options (JobCreate's fields: queue, priority,
        delay_ms, run_at, depends_on, partition_key, max_retries, timeout_s, idempotency_key,
        trace_id, id)."""
        return TaskHandle(self._fn, self.task, self._options | options)

    def job(self, *args: Any, **kwargs: Any) -> JobCreate:
        """The JobCreate of a call with these arguments; InvalidPayloadError (a DTQError) when
        they do not fit the handler or the options are invalid. Nothing is sent."""
        payload = self.task.shape.payload(args, kwargs)
        options = {"queue": self.task.queue} | self._options
        try:
            return JobCreate(task_type=self.task.name, payload=payload, **options)
        except ValidationError as exc:
            raise InvalidPayloadError(f"invalid job options: {exc.errors()[0]['msg']}") from None

    def enqueue(self, via: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Submit a job of this task through `via`: a DTQClient (returns the job), an
        AsyncDTQClient or an Engine (return an awaitable of it)."""
        job = self.job(*args, **kwargs)
        if hasattr(via, "submit_job"):
            return via.submit_job(job)
        if hasattr(via, "producer"):
            return via.producer.enqueue(job)
        raise TypeError("enqueue through a DTQClient, an AsyncDTQClient or an Engine")


class TaskRegistry:
    """Handlers by task type. Create one per module and decorate handlers with `task()`."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def task(
        self,
        name: str | None = None,
        *,
        queue: str | None = None,
        timeout_s: float | None = None,
        isolated: bool = False,
    ) -> Callable[[Handler], TaskHandle]:
        """Register the decorated function under `name` (default: the function's name).

        :param queue: the queue its jobs go to when a submission names none (default: the
            `default` queue); a worker started without --queues listens to its tasks' queues.
        :param timeout_s: stop an attempt that runs longer; it fails with reason `timeout`
            (a job's own timeout_s takes precedence).
        :param isolated: run each job in a child process, killed on cancel or timeout: the way
            to stop CPU-bound or blocking code. The function must be importable at module level.
        """

        def register(fn: Handler) -> TaskHandle:
            self.add(fn, name, queue=queue, timeout_s=timeout_s, isolated=isolated)
            return TaskHandle(fn, self._tasks[str(name or getattr(fn, "__name__", ""))])

        return register

    def add(
        self,
        fn: Handler,
        name: str | None = None,
        *,
        queue: str | None = None,
        timeout_s: float | None = None,
        isolated: bool = False,
    ) -> None:
        """Register a handler; a name may be registered once."""
        task_name = str(name or getattr(fn, "__name__", ""))
        if not re.fullmatch(TASK_TYPE_PATTERN, task_name):
            raise ValueError(f"task name {task_name!r} is not like {TASK_TYPE_PATTERN}")
        if queue is not None and not re.fullmatch(QUEUE_PATTERN, queue):
            raise ValueError(f"queue name {queue!r} is not like {QUEUE_PATTERN}")
        if task_name in self._tasks and self._tasks[task_name].fn is not fn:
            raise ValueError(f"task {task_name!r} is registered twice")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._tasks[task_name] = Task(
            task_name,
            fn,
            inspect.iscoroutinefunction(fn),
            timeout_s,
            isolated,
            queue,
            PayloadShape.of(fn),
        )

    def get(self, name: str) -> Task | None:
        return self._tasks.get(name)

    def merge(self, other: TaskRegistry) -> None:
        """Add every task of another registry."""
        for task in other._tasks.values():
            self.add(
                task.fn,
                task.name,
                queue=task.queue,
                timeout_s=task.timeout_s,
                isolated=task.isolated,
            )

    @property
    def names(self) -> list[str]:
        return sorted(self._tasks)

    @property
    def queues(self) -> dict[str, str]:
        """Each task type's queue: its own, else `default`."""
        return {name: task.queue or DEFAULT_QUEUE for name, task in sorted(self._tasks.items())}

    @property
    def listen_to(self) -> list[str]:
        """The queues a worker serving these tasks listens to unless told: its tasks' queues,
        in the order first registered."""
        return list(dict.fromkeys(t.queue or DEFAULT_QUEUE for t in self._tasks.values()))


def load_registry(modules: Iterable[str]) -> TaskRegistry:
    """Every TaskRegistry found at the top level of `modules`, merged (a worker serves only
    these: the demo tasks are the module dtq.demo_tasks, loaded only when named).

    Raises ValueError when no module is given or one defines no TaskRegistry, and ImportError
    when one cannot be imported.
    """
    names = list(modules)
    if not names:
        raise ValueError("no task modules: give --tasks MODULE (or WORKER_TASK_MODULES)")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: the `dtq` script's path is its own
    registry = TaskRegistry()
    for module_name in names:
        module = importlib.import_module(module_name)
        found = [v for v in vars(module).values() if isinstance(v, TaskRegistry)]
        if not found:
            raise ValueError(f"module {module_name!r} defines no TaskRegistry")
        for other in found:
            registry.merge(other)
    return registry
