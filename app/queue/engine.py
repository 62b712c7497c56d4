"""The engine: one object bundling the queue's parts for one Redis client and settings."""

from __future__ import annotations

from redis.asyncio import Redis

from app.config import Settings
from app.queue.consumer import Consumer, ensure_group
from app.queue.dependencies import Dependencies
from app.queue.inspector import Inspector
from app.queue.keys import Keys
from app.queue.producer import Producer
from app.queue.schedules import Schedules
from app.queue.scripts import Scripts
from app.queue.tenants import Tenants


class Engine:
    """Producer, inspector, dependencies, schedules, tenants and consumers of one queue shard."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.from_settings(settings)
        self.scripts = Scripts(redis)
        self.dependencies = Dependencies(redis, self.keys, self.scripts, settings)
        self.producer = Producer(redis, self.keys, self.scripts, settings, self.dependencies)
        self.inspector = Inspector(redis, self.keys, settings)
        self.schedules = Schedules(redis, self.keys, self.scripts, self.producer)
        self.tenants = Tenants(redis, self.keys, self.scripts, settings)

    async def setup(self) -> None:
        """Load the scripts and make sure the streams and their consumer groups exist."""
        await self.scripts.load()
        await ensure_group(self.redis, self.keys, self.settings.CONSUMER_GROUP)

    def consumer(self, name: str) -> Consumer:
        """A consumer of the group under a unique name."""
        return Consumer(self.redis, self.keys, self.scripts, self.settings, name)
