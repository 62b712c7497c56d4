"""DTQ: a distributed job orchestrator on Redis Streams.

Task handlers are written against the names here:

    from dtq import JobContext, Retry, TaskRegistry

The HTTP SDK is `dtq.client` (DTQClient, AsyncDTQClient); the CLI is `dtq` (api, worker, admin).
"""

from dtq.worker.registry import JobContext, Retry, TaskRegistry

__version__ = "0.1.0"
__all__ = ["JobContext", "Retry", "TaskRegistry", "__version__"]
