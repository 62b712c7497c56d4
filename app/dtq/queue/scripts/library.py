"""Load the Lua scripts once, call them by SHA, and batch calls into one round trip.

Every `<name>.lua` in this folder is one atomic transition; `_lib.lua`, the shared prelude, goes
into each at load time, after its flags line. A script's Python face (`<name>.py` beside it)
builds one `Call`: the script, its KEYS and ARGV, and how to decode the reply into a typed result.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT

from dtq.config import Settings
from dtq.queue.keys import Keys

T = TypeVar("T")


def script_names() -> list[str]:
    """The stem of every transition script in this folder (the prelude is not one)."""
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".lua")
        for p in folder.iterdir()
        if p.name.endswith(".lua") and not p.name.startswith("_")
    )


def script_source(name: str) -> str:
    """A script's text as loaded: its flags line (`#!lua flags=...`), the prelude, then the
    rest of the script."""
    folder = resources.files(__package__)
    flags, _, body = folder.joinpath(f"{name}.lua").read_text().partition("\n")
    if not flags.startswith("#!lua"):
        raise ValueError(f"{name}.lua must start with its flags line, e.g. '#!lua' (see _lib.lua)")
    return flags + "\n" + folder.joinpath("_lib.lua").read_text() + "\n" + body


class NotReplicatedError(RedisError):
    """A write ran on the master but fewer replicas than REPLICA_ACKS confirmed it in time: a
    failover now could lose it."""


@dataclass(frozen=True, slots=True)
class ReplicaAcks:
    """How many replicas must confirm a script's writes (WAIT), and how long to wait for them."""

    replicas: int
    timeout_ms: int


class Script(AsyncScript):
    """A registered script that knows whether its writes wait for replica acknowledgements,
    and the shard's guard key its calls declare last (keys.py's Keys.guard)."""

    def __init__(self, redis: Redis, source: str, acks: ReplicaAcks | None, guard: str) -> None:
        super().__init__(redis, source)
        self.redis = redis
        self.acks = acks
        self.guard = guard


def writes(source: str) -> bool:
    """Whether a script (as loaded) may write: its flags line does not say `no-writes`."""
    return "no-writes" not in source.partition("\n")[0]


class Library:
    """Every DTQ script registered on one client, with the keys and settings their faces need."""

    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        acks = None
        if settings.REPLICA_ACKS:
            acks = ReplicaAcks(settings.REPLICA_ACKS, settings.REPLICA_ACK_TIMEOUT_MS)
        self._scripts: dict[str, Script] = {}
        for name in script_names():
            source = script_source(name)
            self._scripts[name] = Script(
                redis, source, acks if writes(source) else None, keys.guard
            )

    def script(self, name: str) -> Script:
        """The registered script of that stem (for its face only)."""
        return self._scripts[name]

    async def load(self) -> None:
        """Load every script into the server's script cache (SCRIPT LOAD)."""
        for script in self._scripts.values():
            script.sha = await self.redis.script_load(script.script)

    async def loaded(self) -> bool:
        """True when the server's script cache holds every script."""
        shas = [s.sha for s in self._scripts.values()]
        return all(await self.redis.script_exists(*shas))


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One script call, ready to run: await it, or add it to a Batch."""

    script: Script
    keys: Sequence[str]
    args: Sequence[EncodableT]
    decode: Callable[[Any], T]

    @property
    def declared(self) -> list[str]:
        """The keys sent: the script's own, then the shard's guard (which _lib.lua takes off)."""
        return [*self.keys, self.script.guard]

    async def run(self) -> T:
        """Run the call alone (one round trip) and decode its reply."""
        if self.script.acks is None:  # redis-py's Script reloads on NOSCRIPT
            return self.decode(await self.script(self.declared, self.args))
        (reply,) = await send(self.script.redis, [self])
        if isinstance(reply, Exception):
            raise reply
        return self.decode(reply)

    def __await__(self) -> Generator[Any, None, T]:
        return self.run().__await__()

    def queue(self, pipe: Pipeline) -> None:
        """Queue the call on a pipeline as a bare EVALSHA. (redis-py's own way registers the
        script on the pipeline, which then asks SCRIPT EXISTS first: a round trip per batch.
        Batch.run loads a script the server lacks instead, and runs its calls again.)"""
        declared = self.declared
        pipe.evalsha(self.script.sha, len(declared), *declared, *self.args)


class Pending(Generic[T]):
    """The result of a call in a Batch, there once the batch has run."""

    __slots__ = ("_value", "_set")

    def __init__(self) -> None:
        self._set = False
        self._value: T | None = None

    @property
    def value(self) -> T:
        """The decoded result (RuntimeError before the batch has run)."""
        if not self._set:
            raise RuntimeError("the batch has not run")
        return self._value  # type: ignore[return-value]

    def _fill(self, value: T) -> None:
        self._value, self._set = value, True


class Batch:
    """Script calls sent in one pipelined round trip (not a transaction: each call is atomic)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._calls: list[tuple[Call[Any], Pending[Any]]] = []

    def add(self, call: Call[T]) -> Pending[T]:
        """Queue a call; its result is in the returned Pending once run() returns."""
        pending: Pending[T] = Pending()
        self._calls.append((call, pending))
        return pending

    async def run(self) -> None:
        """Send every queued call at once and decode each reply.

        A call refused with NOSCRIPT (the server lost its script cache: a restart, SCRIPT
        FLUSH) did not run: its script is loaded and it is sent again. Any other error is
        raised once every reply is in (the calls are independent: each ran or did not).
        """
        calls, self._calls = self._calls, []
        if len(calls) == 1:  # no pipeline for one call
            call, pending = calls[0]
            pending._fill(await call.run())
            return
        failure: Exception | None = None
        replies = await send(self._redis, [call for call, _ in calls])
        for (call, pending), reply in zip(calls, replies, strict=True):
            if isinstance(reply, Exception):
                failure = failure or reply
            else:
                pending._fill(call.decode(reply))
        if failure is not None:
            raise failure


async def send(redis: Redis, calls: Sequence[Call[Any]]) -> list[Any]:
    """Each call's raw reply, or its error, from one pipelined round trip.

    A call refused with NOSCRIPT (the server lost its script cache: a restart, SCRIPT FLUSH, a
    failover) did not run: its script is loaded and it is sent again. When a call's script
    waits for replica acknowledgements, a WAIT follows the calls on the same connection; if
    fewer replicas confirm in time, each writing call's reply is a NotReplicatedError.
    """
    replies: list[Any] = [None] * len(calls)
    todo = list(range(len(calls)))
    while todo:
        acks = next((calls[i].script.acks for i in todo if calls[i].script.acks), None)
        async with redis.pipeline(transaction=False) as pipe:
            for i in todo:
                calls[i].queue(pipe)
            if acks is not None:
                pipe.execute_command("WAIT", acks.replicas, acks.timeout_ms)
            got = await pipe.execute(raise_on_error=False)
        shortfall = None
        if acks is not None:
            confirmed = got.pop()
            if isinstance(confirmed, Exception) or int(confirmed) < acks.replicas:
                shortfall = NotReplicatedError(
                    f"{confirmed} of {acks.replicas} replicas confirmed the write within "
                    f"{acks.timeout_ms} ms (REPLICA_ACKS)"
                )
        again = []
        for i, reply in zip(todo, got, strict=True):
            script = calls[i].script
            if isinstance(reply, NoScriptError):
                script.sha = await redis.script_load(script.script)
                again.append(i)
            elif shortfall is not None and script.acks and not isinstance(reply, Exception):
                replies[i] = shortfall
            else:
                replies[i] = reply
        todo = again
    return replies


async def run_all(redis: Redis, calls: Sequence[Call[T]]) -> list[T]:
    """Run calls of one kind in one pipelined round trip; their results in order."""
    batch = Batch(redis)
    pending = [batch.add(call) for call in calls]
    await batch.run()
    return [p.value for p in pending]
