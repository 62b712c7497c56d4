"""Isolated handlers: each job runs in a child process that is killed on cancel or timeout.

Threads cannot be stopped from outside, so a CPU-bound or blocking handler that must be
cancelable is marked `isolated`. The child is started with `spawn` (no inherited event loop or
locks), imports the handler's module, runs it and sends the outcome back through a pipe.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import multiprocessing
import threading
from concurrent.futures import Executor
from multiprocessing.connection import Connection
from typing import Any

from dtq import jsontext
from dtq.errors import InvalidPayloadError
from dtq.worker.registry import JobContext, JsonPayload, Retry, Task
from dtq.worker.signatures import PayloadShape
from dtq.worker.tracebacks import error_line, handler_traceback


class IsolatedError(Exception):
    """The handler raised in the child process (its type and message are in the text, its
    traceback in `traceback`)."""

    def __init__(self, text: str, traceback: str = "") -> None:
        super().__init__(text)
        self.traceback = traceback


class IsolatedInvalidResult(Exception):
    """The handler in the child process returned something that is not JSON."""

    def __init__(self, type_name: str, detail: str) -> None:
        super().__init__(detail)
        self.type_name = type_name


class EncodedResult:
    """A handler's result as JSON text already (the child encoded it; it is stored as is)."""

    __slots__ = ("json",)

    def __init__(self, json: bytes) -> None:
        self.json = json


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _child_main(
    module: str, qualname: str, ctx: JobContext, payload: JsonPayload, conn: Connection
) -> None:
    try:
        fn = _resolve(module, qualname)
        args, kwargs = PayloadShape.of(getattr(fn, "__wrapped__", fn)).arguments(payload)
        result = fn(ctx, *args, **kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        try:
            encoded = jsontext.dumps(result)
        except (TypeError, ValueError, InvalidPayloadError) as exc:
            conn.send(("invalid", type(result).__name__, str(exc)))
        else:
            conn.send(("ok", encoded))
    except Retry as exc:
        conn.send(("retry", exc.delay, str(exc)))
    except BaseException as exc:  # the parent decides what a failure means
        conn.send(("error", error_line(exc), handler_traceback(exc)))
    finally:
        conn.close()


async def run_isolated(
    task: Task, ctx: JobContext, payload: JsonPayload, pool: Executor
) -> EncodedResult:
    """Run the handler in a child process; kill it if this coroutine is cancelled or times out.

    Returns the handler's result as the child encoded it; raises Retry or IsolatedError as the
    handler did, or IsolatedError when the child died without an answer.
    """
    mp = multiprocessing.get_context("spawn")
    receiver, sender = mp.Pipe(duplex=False)
    module, qualname = task.fn.__module__, getattr(task.fn, "__qualname__", task.name)
    proc = mp.Process(
        target=_child_main,
        args=(module, qualname, ctx, payload, sender),
        daemon=True,
    )
    proc.start()
    sender.close()
    loop = asyncio.get_running_loop()
    try:
        outcome = await loop.run_in_executor(pool, receiver.recv)
    except EOFError:
        raise IsolatedError(f"the child process died (exit code {proc.exitcode})") from None
    except BaseException:
        proc.kill()  # cancelled or timed out: the child goes, the pipe reader sees EOF
        raise
    finally:
        threading.Thread(target=proc.join, args=(10,), daemon=True).start()  # reap the child
    kind = outcome[0]
    if kind == "ok":
        return EncodedResult(outcome[1])
    if kind == "retry":
        raise Retry(outcome[1], outcome[2])
    if kind == "invalid":
        raise IsolatedInvalidResult(outcome[1], outcome[2])
    raise IsolatedError(outcome[1], outcome[2])
