"""The Redis connection pool factory (asyncio redis-py with hiredis)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.sentinel import Sentinel, SentinelManagedConnection
from redis.crc import key_slot
from redis.exceptions import DataError

from dtq.config import Settings
from dtq.redis_topology import SlotConnection, SlotOwner, SSLSlotConnection, redirect_retry

SOCKET_TIMEOUT_S = 15.0


class HiredisPacking(AbstractConnection):
    """Packs commands with hiredis (C) instead of redis-py's asyncio packer (Python).

    redis-py's sync client packs with hiredis already; its asyncio connection packs every
    argument in Python and re-joins a growing buffer per argument. For the batched scripts
    (hundreds of arguments per call) that was a fifth of a worker's CPU.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        """The RESP bytes of one command (same splitting of a spaced command name as redis-py)."""
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:  # None, bool, list...: redis-py's own error for bad input
            raise DataError(f"invalid command argument: {exc}") from exc

    def pack_commands(self, commands: Any) -> list[bytes]:
        """The RESP bytes of a pipeline, as one buffer."""
        return [b"".join(self.pack_command(*command)[0] for command in commands)]


# redis-py's connection classes (redis://, rediss://, unix://) with hiredis packing.
_HIREDIS_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {
    base: type(base.__name__, (HiredisPacking, base), {})
    for base in (Connection, SSLConnection, UnixDomainSocketConnection)
}
# TCP connections follow the node that serves DTQ's slot (a cluster's master, or the server).
_SLOT_CONNECTIONS: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: type("SlotConnection", (HiredisPacking, SlotConnection), {}),
    SSLConnection: type("SSLSlotConnection", (HiredisPacking, SSLSlotConnection), {}),
}


SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
_SENTINEL_CONNECTION = type("SentinelConnection", (HiredisPacking, SentinelManagedConnection), {})


class SentinelMaster(Redis):
    """A client of a Sentinel set's master that also closes its clients of the sentinels."""

    dtq_sentinel: Sentinel

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the master's connections and the sentinels'."""
        await super().aclose(close_connection_pool)
        for client in self.dtq_sentinel.sentinels:
            await client.aclose()


def _sentinel_master(url: str, options: dict[str, Any]) -> Redis:
    """A client of the master a Sentinel set names, followed across failovers (redis-py's
    SentinelConnectionPool asks the sentinels again whenever a connection is made or lost).

    `redis+sentinel://[user:password@]host[:port][,host[:port]...]/master-name[/db]`; the
    password is the master's; `?sentinel_password=...` if the sentinels want one.
    """
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        sentinels.append((name, int(port or SENTINEL_PORT)))
    service, _, db = parts.path.strip("/").partition("/")
    if not service or not all(name for name, _ in sentinels):
        raise ValueError(f"{SENTINEL_SCHEME}:// needs hosts and a master name: host:port/name")
    sentinel_password = parse_qs(parts.query).get("sentinel_password", [None])[0]
    timeouts = {"socket_timeout": 2, "socket_connect_timeout": 2}
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        sentinels, sentinel_kwargs={"password": sentinel_password, **timeouts}
    )
    client: SentinelMaster = sentinel.master_for(
        service,
        redis_class=SentinelMaster,
        connection_class=_SENTINEL_CONNECTION,
        username=unquote(username) or None,
        password=unquote(password) or None,
        db=int(db or 0),
        **options,
    )
    client.dtq_sentinel = sentinel
    return client


def create_redis(settings: Settings, url: str | None = None, shard: str | None = None) -> Redis:
    """An asyncio client for REDIS_URL (redis://, rediss:// with TLS, user:password@ for ACLs).
    The URL may name a single server or any node of a Redis/Valkey Cluster: commands go to the
    master that serves DTQ's slot, followed across failovers and slot moves (redis_topology).
    `redis+sentinel://host:26379[,host:26379]/master-name` follows a Sentinel set's master.

    :param url: overrides REDIS_URL, e.g. for an embedded server.
    :param shard: the hash tag whose slot's master the client follows (default SHARD).
    """
    target = url or settings.REDIS_URL
    if not target:
        raise ValueError("REDIS_URL is not set")
    options: dict[str, Any] = {
        "decode_responses": True,
        "max_connections": settings.REDIS_MAX_CONNECTIONS,
        "health_check_interval": 30,
        "socket_keepalive": True,
        # A dead connection errors out instead of hanging: no command (nor blocking read, which
        # waits at most 1 s) takes this long on a live server.
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": 5,
    }
    if target.startswith(f"{SENTINEL_SCHEME}://"):
        return _sentinel_master(target, options)
    client = Redis.from_url(target, **options)
    pool = client.connection_pool
    base = pool.connection_class
    if base in _SLOT_CONNECTIONS:
        kwargs = dict(pool.connection_kwargs)
        seed = (str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)))
        slot = key_slot(f"{{{shard or settings.SHARD}}}".encode())
        pool.connection_kwargs["slot_owner"] = SlotOwner(seed, slot, base, kwargs)
        pool.connection_kwargs["retry"] = redirect_retry()
        pool.connection_class = _SLOT_CONNECTIONS[base]
    else:
        pool.connection_class = _HIREDIS_PACKING.get(base, base)
    return client
