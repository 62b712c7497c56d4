"""Which keys each script touches without declaring them in KEYS (issue 17, item 3), and the
guard every call declares.

On a cluster, the server checks only the keys a script declares: during a key-by-key slot
migration it refuses (TRYAGAIN) a call whose declared keys it lacks in part, while a key the
script reaches without declaring it, already moved, simply looks absent. Every call declares
the shard's guard last (Keys.guard, a key that never exists), so no script runs at all while
DTQ's slot is migrating (test_slot_migration.py moves it key by key under load). This test
watches the server (MONITOR) through a workload that runs every script, checks that each call
declared the guard and that nothing created it, asks the server which arguments of each command
a script ran are keys (COMMAND GETKEYS), and compares them with the script's KEYS.

UNDECLARED lists, per script, the kinds of key it still reaches on its own (key names with the
tenant, job id and the like as `*`): harmless behind the guard, and listed so that the list can
only shrink (the test fails when a script reaches a kind of key not listed there).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis as sync_redis

from dtq.config import Settings
from dtq.errors import DTQError
from dtq.models import JobCreate, Priority, ScheduleCreate, TenantCreate
from dtq.queue import Engine
from dtq.queue.scripts.library import script_names
from dtq.queue.scripts.requeue import requeue
from dtq.worker.runner import Worker
from tests.conftest import CLUSTER, wait_for

pytestmark = pytest.mark.skipif(CLUSTER, reason="MONITOR watches one server")

# Kinds of key each script reaches without declaring them (safe behind the guard; may shrink).
# `lanes:*:N` is a tenant's lane of level N, `lanes:*:running` its running set, `pk:*` a
# partition key's line, `job:*` a job's hash; `queue:*:` the same for a named queue;
# `jobs#N` a bucket of a job index (`jobs:*#N`: a tenant's), found through the index's directory.
LANES = {"lanes", "lanes:*:1", "lanes:*:2", "lanes:*:3", "lanes:*:4", "lanes:*:running",
         "lanes:bell", "lanes:capped"}  # fmt: skip
NAMED = {f"queue:*:{kind}" for kind in LANES | {"stream"}}
UNDECLARED: dict[str, set[str]] = {
    "cancel": {"finished:canceled", "pk:*", "stream"} | LANES | NAMED,
    "complete": {"job:*", "pk:*"} | LANES | NAMED,
    "enqueue": {"pk:*", "stream", "jobs#N", "jobs:*#N"} | LANES | NAMED,
    "fail": LANES | NAMED,
    "promote_due": {"stream"} | LANES | NAMED,
    "purge_queue": {"job:*"} | LANES | NAMED,
    "read": {"job:*"} | LANES | NAMED,
    "release": {"stream"} | LANES | NAMED,
    "retire": {"job:*"},
    "retry_dead": {"stream"} | LANES | NAMED,
    "start": {"pk:*"} | LANES | NAMED,
}

ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")


def unescape(text: str) -> str:
    """A MONITOR argument as the server received it (it escapes quotes, backslashes, bytes)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        return {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}.get(code, code)

    return ESCAPE.sub(one, text)


class Monitor:
    """MONITOR on its own socket, in a thread: every command line the server runs."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
        self._sock.sendall(b"MONITOR\r\n")
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\r\n")
            self.lines += [line.decode("utf-8", "replace") for line in complete]

    def close(self) -> None:
        self._sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def monitor(redis_url: str) -> Iterator[Monitor]:
    watching = Monitor(redis_url)
    yield watching
    watching.close()


def kind(key: str, base: str, words: set[str]) -> str:
    """A key's kind: its name after the shard's base, each part that is not a fixed word `*`."""
    rest = key.removeprefix(base + ":")

    def part_kind(part: str) -> str:
        name, sep, bucket = part.partition("#")  # a job index's bucket: `<index>#<n>`
        return (name if name in words else "*") + sep + ("N" if bucket else "")

    return ":".join(part_kind(part) for part in rest.split(":"))


def undeclared(
    lines: list[str], names: dict[str, str], url: str, base: str
) -> tuple[dict[str, set[str]], set[str], set[str]]:
    """Per script, the kinds of key its commands reached beyond its KEYS; the scripts run; and
    the scripts called without the guard as their last key."""
    client = sync_redis.Redis.from_url(url, decode_responses=True)
    words = {"lanes", "running", "bell", "capped", "job", "queue", "finished", "succeeded",
             "canceled", "dead", "stream", "dlq", "delayed", "jobs", "retention", "gone", "stats",
             "events", "history", "5s", "1m", "workers", "worker", "schedules", "budgets", "rates",
             "due", "cancel", "deps", "outbox", "lock", "housekeeping", "children", "rate", "idem",
             "tenants", "apikeys", "bucket", "paused", "held", "pk", "queues", "tasks", "high",
             "critical", "low", "1", "2", "3", "4"}  # fmt: skip
    found: dict[str, set[str]] = defaultdict(set)
    ran: set[str] = set()
    unguarded: set[str] = set()
    script, declared = None, set()
    for line in lines:
        if "[" not in line:
            continue
        source = line.split("[", 1)[1].split("]", 1)[0]
        args = [unescape(a) for a in ARG.findall(line)]
        if not args:
            continue
        if " lua" not in f" {source}":
            script, declared = None, set()
            if args[0].lower() == "evalsha" and args[1] in names:
                script = names[args[1]]
                ran.add(script)
                named = args[3 : 3 + int(args[2])]
                if not named or named[-1] != f"{base}:guard":
                    unguarded.add(script)
                declared = set(named)
            continue
        if script is None:
            continue
        try:
            keys = client.command_getkeys(*args)
        except sync_redis.ResponseError:  # a command without keys (TIME, ...)
            continue
        for key in keys:
            if key not in declared:
                found[script].add(kind(key, base, words))

    client.close()
    return found, ran, unguarded


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(AUTH_DISABLED=False)


async def workload(engine: Engine, start_worker: Callable[..., Worker]) -> None:
    """Enough of DTQ's life to run every script: tenants with caps, priorities, partition keys,
    dependencies, delays, failures and retries, the DLQ, cancels (of a scheduled, a pending and
    a running job), schedules, a paused queue, progress, lease renewal and housekeeping."""
    await engine.tenants.create(TenantCreate(name="acme", max_concurrency=2))
    await engine.tenants.create(TenantCreate(name="zeta"))
    key = await engine.tenants.create_key("acme")
    await engine.tenants.authenticate(key.key)
    acme = await engine.tenants.get("acme")
    await engine.tenants.admit(acme, 1)
    jobs = [JobCreate(task_type="noop", priority=p) for p in Priority]
    jobs += [JobCreate(task_type="noop", partition_key="k") for _ in range(3)]
    jobs += [JobCreate(task_type="fail", max_retries=1), JobCreate(task_type="sync_progress")]
    jobs += [JobCreate(task_type="noop", id="parent"),
             JobCreate(task_type="noop", depends_on=["parent"]),
             JobCreate(task_type="noop", delay_ms=50)]  # fmt: skip
    await engine.producer.enqueue_many(jobs, "acme")
    await engine.producer.enqueue_many([JobCreate(task_type="noop") for _ in range(5)], "zeta")
    doomed = await engine.producer.enqueue(JobCreate(task_type="noop", delay_ms=60_000), "zeta")
    await engine.jobs.cancel(doomed.id, "zeta")  # scheduled
    lined = await engine.producer.enqueue(JobCreate(task_type="noop", partition_key="c"), "acme")
    await engine.jobs.cancel(lined.id, "acme")  # pending in its tenant's lane, in a key's line
    await engine.schedules.put(
        ScheduleCreate(name="tick", cron="* * * * * *", task_type="noop"), "acme"
    )
    worker = start_worker(concurrency=5)
    victim = await engine.producer.enqueue(JobCreate(task_type="sleep", payload={"seconds": 3}),
                                           "zeta")  # fmt: skip

    async def running() -> bool:
        return (await engine.jobs.get(victim.id, "zeta")).status == "running"

    await wait_for(running, timeout=15)
    await engine.jobs.cancel(victim.id, "zeta")  # running: its slot freed, its worker told
    await asyncio.sleep(1.2)  # a tick is due: the worker or this call fires it
    await engine.schedules.fire_due()
    long = await engine.producer.enqueue(JobCreate(task_type="sleep", payload={"seconds": 1.5}))
    await engine.producer.enqueue(JobCreate(task_type="noop", queue="math"))

    async def dead() -> list[Any]:
        return (await engine.dlq.list(tenant="acme")).data

    dead_jobs = await wait_for(dead, timeout=15)
    await engine.dlq.retry(dead_jobs[0].id, tenant="acme")
    await wait_for(dead, timeout=15)
    await engine.dlq.purge((await dead())[0].id, tenant="acme")
    await engine.schedules.delete("tick", "acme")
    await engine.queues.pause("default")
    await engine.producer.enqueue(JobCreate(task_type="noop"))
    await asyncio.sleep(0.5)
    await engine.queues.resume("default")
    await engine.queues.pause("default")
    await engine.producer.enqueue(JobCreate(task_type="noop"))
    try:
        await engine.queues.purge("default", confirm=True)
    except DTQError:
        pass
    await engine.queues.resume("default")
    await wait_for(lambda: engine.jobs.get(long.id), timeout=5)
    await asyncio.sleep(2)  # lease renewal, heartbeats, trimming
    await engine.housekeep()
    await engine.trim()
    await engine.history.record()
    # requeue runs when a stream entry vanished under a job (XDEL by hand): call it directly.
    await requeue(engine.lib, queue=engine.keys.queue(), job_id=long.id, entry_id="0-1", level=2)
    worker.stop()
    await asyncio.sleep(1)


async def test_every_key_a_script_reaches_is_declared_or_listed(
    engine: Engine,
    start_worker: Callable[..., Worker],
    monitor: Monitor,
    redis_url: str,
) -> None:
    await workload(engine, start_worker)
    await asyncio.sleep(0.5)
    names = {engine.lib.script(n).sha: n for n in script_names()}
    lines = list(monitor.lines)
    found, ran, unguarded = undeclared(lines, names, redis_url, engine.keys.base)
    assert ran == set(script_names()), f"not run: {set(script_names()) - ran}"
    assert not unguarded, f"called without the guard: {unguarded}"
    assert engine.keys.guard == f"{engine.keys.base}:guard"
    touched = [line for line in lines if f'"{engine.keys.guard}"' in line]
    assert not [line for line in touched if "evalsha" not in line.lower()], "the guard was used"
    assert not await engine.redis.exists(engine.keys.guard)
    new = {s: sorted(k - UNDECLARED.get(s, set())) for s, k in found.items()}
    new = {s: kinds for s, kinds in new.items() if kinds}
    assert not new, f"scripts reach undeclared keys: {new}"
