"""`dtq worker` (or `python -m dtq.worker`): run a DTQ worker process."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from dtq.config import Environment, Settings, configure_logging, load_service_settings
from dtq.errors import SettingsError
from dtq.models import QUEUE_PATTERN
from dtq.queue import Shards
from dtq.redis_client import create_redis
from dtq.tracing import setup_tracing
from dtq.worker.group import WorkerGroup
from dtq.worker.registry import TaskRegistry, load_registry
from dtq.worker.runner import default_worker_name
from dtq.worker.shutdown import install_signal_handlers

DEMO_TASKS = "dtq.demo_tasks"


def parse_args(argv: list[str] | None, prog: str = "dtq worker") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a DTQ worker: it serves the task modules it is given, and only those.",
    )
    parser.add_argument(
        "--concurrency", "-c", type=int, help="jobs run at once (default WORKER_CONCURRENCY)"
    )
    parser.add_argument(
        "--tasks",
        action="append",
        default=[],
        metavar="MODULE",
        help="module defining a TaskRegistry (repeatable; adds to WORKER_TASK_MODULES); "
        "dtq.demo_tasks holds noop, echo, sleep, fail, flaky and cpu",
    )
    parser.add_argument(
        "--queues",
        "-Q",
        type=parse_queues,
        help="queues to listen to, in order (emails,default) or by weight (emails=3,default=1); "
        "default: the queues of its tasks",
    )
    parser.add_argument("--name", help="consumer name (default host-pid-random)")
    parser.add_argument(
        "--log-level", help="DEBUG logs one line per state change (default LOG_LEVEL)"
    )
    return parser.parse_args(argv)


def parse_queues(text: str) -> tuple[list[str], list[int] | None]:
    """--queues: `a,b` (in order) or `a=3,b=1` (by weight) -> (names, weights or None)."""
    names: list[str] = []
    weights: list[int] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        if not re.fullmatch(QUEUE_PATTERN, name):
            raise argparse.ArgumentTypeError(f"queue name {name!r} is not like {QUEUE_PATTERN}")
        if weight and not (weight.isdigit() and 1 <= int(weight) <= 1000):
            raise argparse.ArgumentTypeError(f"weight of {name!r} must be 1..1000")
        names.append(name)
        weights.append(int(weight or 0))
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("give one or more distinct queue names")
    if any(weights) and not all(weights):
        raise argparse.ArgumentTypeError("give every queue a weight, or none")
    return names, (weights if all(weights) else None)


async def serve(
    settings: Settings, registry: TaskRegistry, worker_args: argparse.Namespace
) -> None:
    """Build the worker from settings and run it until a signal stops it: one Worker per shard,
    sharing the process's job slots and metrics."""
    setup_tracing(settings, "dtq-worker")
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    try:
        await shards.check_count()
        queues, weights = worker_args.queues or (None, None)
        group = WorkerGroup(
            shards,
            registry,
            concurrency=worker_args.concurrency,
            name=worker_args.name,
            queues=queues,
            weights=weights,
        )
        if settings.WORKER_METRICS_PORT:
            group.metrics.serve(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_HOST)
        task = asyncio.current_task()
        assert task is not None
        install_signal_handlers(group.stop, task)
        await group.run()
    finally:
        await shards.aclose()


def main(argv: list[str] | None = None, prog: str = "dtq worker") -> int:
    """Run a worker; exit status 0 after a graceful stop, 1 when stopped at once, 2 for bad
    arguments or settings."""
    args = parse_args(argv, prog)
    try:
        settings = load_service_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.concurrency is not None and not 1 <= args.concurrency <= 10_000:
        print("error: --concurrency must be between 1 and 10000", file=sys.stderr)
        return 2
    args.name = args.name or default_worker_name()
    configure_logging(args.log_level or settings.LOG_LEVEL, settings, service="dtq-worker",
                      worker=args.name)  # fmt: skip
    modules = [*settings.task_modules, *args.tasks]
    if (
        DEMO_TASKS in modules
        and settings.ENVIRONMENT == Environment.PRODUCTION
        and not settings.ALLOW_DEMO_TASKS
    ):
        print(
            f"error: {DEMO_TASKS} (noop, echo, sleep, fail, flaky, cpu) is for development; "
            "set ALLOW_DEMO_TASKS=true to serve it in production",
            file=sys.stderr,
        )
        return 2
    try:
        registry = load_registry(modules)
    except (ImportError, ValueError) as exc:
        print(f"error: cannot load tasks: {exc}", file=sys.stderr)
        return 2
    run = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        pass
    try:
        run(serve(settings, registry, args))
    except asyncio.CancelledError:
        return 1
    except SettingsError as exc:  # found on the server, e.g. another number of shards
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m dtq.worker"))
