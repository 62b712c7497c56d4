"""DTQ runs as a least-privilege Redis ACL user: the README's rule, verified end to end."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from dtq.config import Settings
from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.redis_client import create_redis
from tests.conftest import CLUSTER, Processes, wait_for

# The rule the README gives, for the key prefix `t…` of this test instead of `dtq`.
README_RULE = (
    "on >{password} resetkeys ~{prefix}:* resetchannels &{prefix}:* -@all +@read +@write"
    " +@stream +@scripting +@pubsub +@connection +@transaction +time -@dangerous +cluster|slots"
)


@pytest.mark.skipif(CLUSTER, reason="a cluster's ACLs are per node: set the rule on each node")
async def test_the_readme_acl_runs_the_whole_flow_and_forbids_the_rest(
    make_settings: Callable[..., Settings], redis_url: str, processes: Processes
) -> None:
    prefix = make_settings().KEY_PREFIX
    user, password = f"dtq-{prefix}", secrets.token_urlsafe(16)
    admin = Redis.from_url(redis_url)
    await admin.execute_command(
        "ACL", "SETUSER", user, *README_RULE.format(password=password, prefix=prefix).split()
    )
    try:
        parts = urlsplit(redis_url)
        acl_url = f"redis://{user}:{password}@{parts.hostname}:{parts.port}/0"
        settings = make_settings(REDIS_URL=acl_url, AUTH_DISABLED=False, RATE_LIMITS="ping=100/s")
        redis = create_redis(settings)
        engine = Engine(redis, settings)
        await engine.setup()
        await engine.tenants.create(TenantCreate(name="acme"))
        key = (await engine.tenants.create_key("acme")).key
        processes.worker(settings, "--name", "acl-worker")
        url = processes.api(settings)
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=10) as http:
            jobs = [
                {"task_type": "echo", "payload": {"n": 1}},
                {"task_type": "fail", "max_retries": 0},
                {"task_type": "echo", "delay_ms": 50},
                {"task_type": "sleep", "payload": {"seconds": 30}, "id": "long"},
            ]
            ids = [(await http.post("/jobs", json=j)).json()["id"] for j in jobs]

            async def settled() -> bool:
                got = [(await http.get(f"/jobs/{i}")).json()["status"] for i in ids]
                return got[:3] == ["succeeded", "dead", "succeeded"] and got[3] == "running"

            await wait_for(settled, timeout=20)
            # Cancel of a running job: a script plus a pub/sub message on the app's channel.
            assert (await http.post("/jobs/long/cancel")).json()["status"] == "canceled"
            assert (await http.post("/dlq/retry", json={"dry_run": True})).json()["matched"] == 1
            schedule = {"name": "s", "cron": "0 3 * * *", "task_type": "echo"}
            assert (await http.post("/schedules", json=schedule)).status_code == 201
            ready = (await http.get("/health/ready")).json()
            assert ready["status"] == "ok"  # CONFIG is denied: a warning, not a failure
            assert any("CONFIG" in w for w in ready["warnings"])
        # And nothing else: no other keys, no admin commands.
        with pytest.raises(NoPermissionError):
            await redis.get("other:key")
        for command in (("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*")):
            with pytest.raises(NoPermissionError):
                await redis.execute_command(*command)
        # DEBUG is off on the server anyway; ask the ACL itself.
        verdict = await admin.execute_command("ACL", "DRYRUN", user, "DEBUG", "SLEEP", "0")
        assert b"no permissions" in verdict
        await redis.aclose()
    finally:
        await admin.execute_command("ACL", "DELUSER", user)
        await admin.aclose()
