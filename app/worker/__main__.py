"""`python -m app.worker`: run a DTQ worker process."""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.config import Settings, configure_logging, load_service_settings
from app.errors import SettingsError
from app.queue import Engine
from app.redis_client import create_redis
from app.worker.registry import TaskRegistry, load_registry
from app.worker.runner import Worker
from app.worker.shutdown import install_signal_handlers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app.worker", description="Run a DTQ worker.")
    parser.add_argument(
        "--concurrency", "-c", type=int, help="jobs run at once (default WORKER_CONCURRENCY)"
    )
    parser.add_argument(
        "--tasks",
        action="append",
        default=[],
        metavar="MODULE",
        help="module defining a TaskRegistry (repeatable; adds to WORKER_TASK_MODULES)",
    )
    parser.add_argument("--name", help="consumer name (default host-pid-random)")
    parser.add_argument(
        "--log-level", help="DEBUG logs one line per state change (default LOG_LEVEL)"
    )
    return parser.parse_args(argv)


async def serve(
    settings: Settings, registry: TaskRegistry, worker_args: argparse.Namespace
) -> None:
    """Build the worker from settings and run it until a signal stops it."""
    redis = create_redis(settings)
    try:
        worker = Worker(
            Engine(redis, settings),
            registry,
            concurrency=worker_args.concurrency,
            name=worker_args.name,
        )
        task = asyncio.current_task()
        assert task is not None
        install_signal_handlers(worker.stop, task)
        await worker.run()
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_service_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.concurrency is not None and not 1 <= args.concurrency <= 10_000:
        print("error: --concurrency must be between 1 and 10000", file=sys.stderr)
        return 2
    configure_logging(args.log_level or settings.LOG_LEVEL)
    try:
        registry = load_registry([*settings.task_modules, *args.tasks])
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
