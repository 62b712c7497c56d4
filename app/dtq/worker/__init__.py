"""The worker process: task registry, concurrency, leases and graceful shutdown."""

from dtq.worker.registry import JobContext, Retry, TaskRegistry

__all__ = ["JobContext", "Retry", "TaskRegistry"]
