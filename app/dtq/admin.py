"""`dtq admin` (or `python -m dtq.admin`): manage tenants, API keys and queues (as /admin/*
and /queues do).

    dtq admin create-tenant acme [--rate-per-s 50 --burst 100] [--max-concurrency 5 --weight 2]
    dtq admin set-limits acme --max-concurrency 10   # replaces all its limits; prints them
    dtq admin create-key acme        # the new key is the last line printed
    dtq admin revoke-key 3f2a9c0d1e4b5a69
    dtq admin list
    dtq admin queues                 # every queue: paused?, pending, running, workers
    dtq admin pause emails | resume emails
    dtq admin purge emails --yes     # cancel its pending jobs (without --yes: how many)
    dtq admin drain emails [--timeout 600]   # wait until nothing is pending or running

Talks to REDIS_URL directly. Exit status: 0 done, 1 refused (unknown tenant, key or queue, name
taken, purge unconfirmed, drain timed out), 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

from pydantic import ValidationError

from dtq.config import load_service_settings
from dtq.errors import DTQError, SettingsError
from dtq.models import QUEUE_PATTERN, QueueInfo, TenantCreate, TenantLimits, TenantUsage
from dtq.queue import Shards, shard_views
from dtq.redis_client import create_redis


def _key_id(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{16}", value):
        raise argparse.ArgumentTypeError("a key id is 16 hex characters (see: list)")
    return value


def _limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate-per-s", type=float, help="submissions per second")
    p.add_argument("--burst", type=int, help="submissions at once")
    p.add_argument("--max-concurrency", type=int, help="jobs running at once, all workers")
    p.add_argument("--weight", type=int, help="share of the workers (default 1)")


def _limits(args: argparse.Namespace) -> TenantLimits:
    return TenantLimits(
        rate_per_s=args.rate_per_s,
        burst=args.burst,
        max_concurrency=args.max_concurrency,
        weight=args.weight,
    )


def parse_args(argv: list[str], prog: str = "dtq admin") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    tenant = sub.add_parser("create-tenant", help="add a tenant")
    tenant.add_argument("name")
    tenant.add_argument(
        "--spread", action="store_true", help="its jobs over every shard (SHARDS > 1), for good"
    )
    _limit_options(tenant)
    limits = sub.add_parser("set-limits", help="replace a tenant's limits (unset: the defaults)")
    limits.add_argument("name")
    _limit_options(limits)
    key = sub.add_parser("create-key", help="a new API key for a tenant (printed once)")
    key.add_argument("tenant")
    revoke = sub.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("key_id", type=_key_id)
    sub.add_parser("list", help="tenants and the ids of their live keys")
    sub.add_parser("queues", help="every queue: paused or not, jobs pending and running")
    for command, what in (("pause", "stop workers starting its jobs"), ("resume", "undo pause")):
        sub.add_parser(command, help=f"{what} (one queue)").add_argument("queue", type=_queue)
    purge = sub.add_parser("purge", help="cancel a queue's pending jobs (reason purged)")
    purge.add_argument("queue", type=_queue)
    purge.add_argument("--yes", action="store_true", help="really purge (else: say how many)")
    drain = sub.add_parser("drain", help="wait until a queue has nothing pending or running")
    drain.add_argument("queue", type=_queue)
    drain.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    return p.parse_args(argv)


def _queue(value: str) -> str:
    if not re.fullmatch(QUEUE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"a queue name is like {QUEUE_PATTERN}")
    return value


def _queue_line(q: QueueInfo) -> str:
    state = "paused" if q.paused else "active"
    return (
        f"{q.name}  {state}  pending={q.pending} running={q.running} workers={q.workers}  "
        f"tasks={','.join(q.task_types) or '-'}"
    )


def _usage_line(u: TenantUsage) -> str:
    limits = f"rate_per_s={u.rate_per_s:g} burst={u.burst} "
    limits += f"max_concurrency={u.max_concurrency or 'none'} weight={u.weight}"
    return f"{u.name}  {limits}"


async def _drain(shards: Shards, queue: str, timeout: float) -> int:
    """Wait until the queue has nothing pending or running, showing what is left."""
    deadline = time.monotonic() + timeout
    while True:
        q = await shard_views.queue_info(shards, queue)
        left = q.pending + q.running
        print(f"\r{queue}: {q.pending} pending, {q.running} running   ", end="", flush=True)
        if left == 0:
            print(f"\n{queue} is drained")
            return 0
        if time.monotonic() > deadline:
            print(f"\nerror: {queue} still has {left} jobs after {timeout:g} s", file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> int:
    settings = load_service_settings()
    shards = Shards(settings, lambda tag: create_redis(settings, shard=tag))
    try:
        await shards.check_count()
        await shards.load_scripts()
        tenants = shards.control.tenants
        if args.command == "create-tenant":
            body = TenantCreate(name=args.name, spread=args.spread, **_limits(args).model_dump())
            made = await shards.create_tenant(body)
            print(f"created tenant {made.name}")
        elif args.command == "set-limits":
            tenant = await shards.set_tenant_limits(args.name, _limits(args))
            usage = await shards.for_tenant(tenant).usage()
            print(f"set the limits of tenant {args.name}; in effect now:")
            print(_usage_line(usage))
        elif args.command == "create-key":
            created = await tenants.create_key(args.tenant)
            print(f"created key {created.key_id} for tenant {created.tenant}; it is shown once:")
            print(created.key)
        elif args.command == "revoke-key":
            await tenants.revoke_key(args.key_id)
            print(f"revoked key {args.key_id}")
        elif args.command == "list":
            keys = await tenants.list_keys()
            for t in await tenants.list_tenants():
                u = await shards.for_tenant(t).usage()
                over = shards.spread_over(t)
                where = f"0-{over - 1}" if over > 1 else t.shard
                print(_usage_line(u) + (f" shard={where}" if len(shards) > 1 else ""))
                for k in (k for k in keys if k.tenant == u.name):
                    print(f"  key {k.key_id}  created {k.created_at.isoformat()}")
        elif args.command == "queues":
            for q in await shard_views.all_queues(shards):
                print(_queue_line(q))
        elif args.command == "pause":
            print(_queue_line(await shard_views.pause_queue(shards, args.queue)))
        elif args.command == "resume":
            print(_queue_line(await shard_views.resume_queue(shards, args.queue)))
        elif args.command == "purge":
            purged = await shard_views.purge_queue(shards, args.queue, confirm=args.yes)
            print(f"purged {purged} pending jobs of queue {args.queue}")
        else:
            return await _drain(shards, args.queue, args.timeout)
        return 0
    finally:
        await shards.aclose()


def main(argv: list[str] | None = None, prog: str = "dtq admin") -> int:
    """Run one admin command; exit status 0 done, 1 refused, 2 bad arguments or settings."""
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    try:
        return asyncio.run(run(args))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: {problems}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DTQError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(prog="python -m dtq.admin"))
