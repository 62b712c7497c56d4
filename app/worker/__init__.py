"""The worker process: task registry, concurrency, leases and graceful shutdown."""

from app.worker.registry import JobContext, Retry, TaskRegistry

__all__ = ["JobContext", "Retry", "TaskRegistry"]
