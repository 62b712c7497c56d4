"""The queue engine: knows Redis, knows nothing of HTTP."""

from app.queue.consumer import Consumer, Delivery, Failure, Settled
from app.queue.engine import Engine
from app.queue.keys import Keys

__all__ = ["Consumer", "Delivery", "Engine", "Failure", "Keys", "Settled"]
