"""The DTQ Python SDK over HTTP (httpx), sync and async.

    from dtq.client import DTQClient

    with DTQClient("http://127.0.0.1:8000", api_key="dtq_...") as dtq:
        job = dtq.submit("echo", {"hello": "world"})
        done = dtq.wait(job.id, timeout=10)
        print(done.status, done.result)

Every operation is described once in `operations`; the two clients only send them.
"""

from dtq.client.clients import AsyncDTQClient, DTQClient
from dtq.client.errors import DTQClientError, DTQConnectionError, JobWaitTimeoutError
from dtq.client.operations import InvalidRequestError, SubmitOptions

__all__ = [
    "AsyncDTQClient",
    "DTQClient",
    "DTQClientError",
    "DTQConnectionError",
    "InvalidRequestError",
    "JobWaitTimeoutError",
    "SubmitOptions",
]
