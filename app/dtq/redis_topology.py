"""Following the master that owns DTQ's slot, on a Redis/Valkey Cluster or a single server.

Every DTQ key carries the `{shard}` hash tag, so one shard lives in one cluster slot and every
command of a process goes to one node: the master that owns that slot. `SlotOwner` finds it by
asking any known node `CLUSTER SLOTS` (a server with cluster support disabled is simply used as
it is), and `SlotConnection` connects there. A command refused because the slot is elsewhere
(`MOVED`) or the cluster is busy (`ASK`/`TRYAGAIN` during a slot migration, `CLUSTERDOWN` during
a failover) did not run: it raises SlotMovedError, which redirect_retry() sends again after
reconnecting, to the address MOVED named or to the master a new `CLUSTER SLOTS` finds. A lost
node makes the next connection ask again (and keep asking while a failover runs); a command
whose connection broke is not sent again, since it may have run. So REDIS_URL may name any node
of the cluster, and a failover or a slot move is followed without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    NoPermissionError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

log = logging.getLogger(__name__)

Address = tuple[str, int]

PROBE_TIMEOUT_S = 2.0


class SlotMovedError(ConnectionError):
    """The connection's node does not serve DTQ's slot (now): the command did not run there,
    so it is safe to send again (redirect_retry() does, after reconnecting)."""


def redirect_retry() -> Retry:
    """redis-py's retry policy for a pool of SlotConnections: a command refused by a redirect is
    sent again (it did not run), up to 12 times over a few seconds; nothing else is retried (a
    command whose connection broke may have run: its caller decides)."""
    backoff = ExponentialWithJitterBackoff(base=0.01, cap=0.5)
    return Retry(backoff, retries=12, supported_errors=(SlotMovedError,))


# How long a new connection keeps looking for the slot's master while a cluster fails over.
CONNECT_PATIENCE_S = 10.0


class SlotOwner:
    """Where DTQ's slot is served: the seed node of REDIS_URL, or the cluster master that owns
    the slot, found once and again after a redirect or a lost node."""

    def __init__(
        self,
        seed: Address,
        slot: int,
        probe_class: type[AbstractConnection],
        probe_kwargs: dict[str, Any],
    ) -> None:
        self.slot = slot
        self.nodes: list[Address] = [seed]  # every node seen, the seed first
        self.clustered: bool | None = None  # unknown until the first probe
        self._address: Address | None = None
        self._probe_class = probe_class
        self._probe_kwargs = probe_kwargs
        self._lock = asyncio.Lock()

    async def address(self) -> Address:
        """The node to connect to (probed when not known)."""
        if self._address is not None:
            return self._address
        async with self._lock:
            if self._address is None:
                self._address = await self._probe()
            return self._address

    def moved(self, address: Address | None) -> None:
        """Forget the current node: the next connection goes to `address` (a MOVED's target),
        or asks the cluster again (None)."""
        if self.clustered is False:  # a single server: nowhere else to go
            return
        self._address = address
        if address is not None and address not in self.nodes:
            self.nodes.append(address)

    async def _probe(self) -> Address:
        failures: list[str] = []
        for node in list(self.nodes):
            try:
                reply = await self._ask(node, "CLUSTER", "SLOTS")
            except NoPermissionError:  # an ACL without CLUSTER SLOTS: use the node, follow MOVED
                return node
            except ResponseError as exc:
                if "cluster support disabled" in str(exc):
                    self.clustered = False
                    return node
                failures.append(f"{node[0]}:{node[1]}: {exc}")
                continue
            except (TimeoutError, ConnectionError, OSError) as exc:
                failures.append(f"{node[0]}:{node[1]}: {exc}")
                continue
            self.clustered = True
            owner = self._learn(node, reply)
            if owner is not None:
                return owner
            failures.append(f"{node[0]}:{node[1]}: slot {self.slot} has no master")
        raise ConnectionError("no node serves DTQ's slot: " + "; ".join(failures))

    def _learn(self, asked: Address, reply: list[Any]) -> Address | None:
        """Note every node of a CLUSTER SLOTS reply; the master of our slot, if any."""
        owner = None
        for start, end, *servers in reply:
            for position, server in enumerate(servers):
                host = server[0] if server[0] not in ("", "?") else asked[0]
                address = (str(host), int(server[1]))
                if address not in self.nodes:
                    self.nodes.append(address)
                if position == 0 and int(start) <= self.slot <= int(end):
                    owner = address
        return owner

    async def _ask(self, node: Address, *command: str) -> Any:
        kwargs = {
            **self._probe_kwargs,
            "host": node[0],
            "port": node[1],
            "socket_timeout": PROBE_TIMEOUT_S,
            "socket_connect_timeout": PROBE_TIMEOUT_S,
            "retry": Retry(NoBackoff(), 0),
        }
        conn = self._probe_class(**kwargs)
        try:
            await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_command(*command)
            return await conn.read_response()
        finally:
            await conn.disconnect()


class SlotConnection(Connection):
    """A connection to whichever node serves DTQ's slot (see the module's docstring)."""

    def __init__(self, *, slot_owner: SlotOwner, **kwargs: Any) -> None:
        self.slot_owner = slot_owner
        super().__init__(**kwargs)

    async def _connect(self) -> None:
        """Connect to the slot's master; on a cluster, while its master cannot be reached (a
        failover), ask the cluster again, for up to CONNECT_PATIENCE_S."""
        deadline = asyncio.get_running_loop().time() + CONNECT_PATIENCE_S
        pause = 0.05
        while True:
            self.host, self.port = await self.slot_owner.address()
            try:
                await super()._connect()  # type: ignore[no-untyped-call]
                return
            except (TimeoutError, OSError):
                self.slot_owner.moved(None)  # the node is gone: ask the cluster again
                if not self.slot_owner.clustered or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """The reply; a cluster redirect becomes a SlotMovedError, after disconnecting (a
        pipeline's later replies are never read)."""
        try:
            return await super().read_response(*args, **kwargs)
        except (ConnectionError, RedisTimeoutError):
            self.slot_owner.moved(None)  # maybe a failover: ask the cluster again next time
            raise
        except MovedError as exc:  # the slot is served elsewhere for good
            self.slot_owner.moved((exc.host or self.host, exc.port))
            redirect: ResponseError = exc
        except ClusterDownError as exc:  # a failover in progress
            self.slot_owner.moved(None)
            redirect = exc
        except (AskError, TryAgainError) as exc:  # a slot migration in progress: wait it out
            redirect = exc
        await self.disconnect()
        log.info("Redis node %s:%s redirects DTQ's slot: %s %s",
                 self.host, self.port, redirect.status_code, redirect)  # fmt: skip
        raise SlotMovedError(f"{redirect.status_code} {redirect}") from redirect


class SSLSlotConnection(SlotConnection, SSLConnection):
    """SlotConnection over TLS (rediss://)."""
