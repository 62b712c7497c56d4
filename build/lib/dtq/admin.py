"""`dtq admin` (or `python -m dtq.admin`): manage tenants and API keys (as /admin/* does).

    dtq admin create-tenant acme [--rate-per-s 50 --burst 100] [--max-concurrency 5 --weight 2]
    dtq admin set-limits acme --max-concurrency 10   # replaces all its limits
    dtq admin create-key acme        # the new key is the last line printed
    dtq admin revoke-key 3f2a9c0d1e4b5a69
    dtq admin list

Talks to REDIS_URL directly. Exit status: 0 done, 1 refused (unknown tenant or key, name taken),
2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from pydantic import ValidationError

from dtq.config import load_service_settings
from dtq.errors import DTQError, SettingsError
from dtq.models import TenantCreate, TenantLimits
from dtq.queue import Engine
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
    _limit_options(tenant)
    limits = sub.add_parser("set-limits", help="replace a tenant's limits (unset: the defaults)")
    limits.add_argument("name")
    _limit_options(limits)
    key = sub.add_parser("create-key", help="a new API key for a tenant (printed once)")
    key.add_argument("tenant")
    revoke = sub.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("key_id", type=_key_id)
    sub.add_parser("list", help="tenants and the ids of their live keys")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    settings = load_service_settings()
    redis = create_redis(settings)
    engine = Engine(redis, settings)
    try:
        await engine.load_scripts()
        tenants = engine.tenants
        if args.command == "create-tenant":
            made = await tenants.create(TenantCreate(name=args.name, **_limits(args).model_dump()))
            print(f"created tenant {made.name}")
        elif args.command == "set-limits":
            await tenants.set_limits(args.name, _limits(args))
            print(f"set the limits of tenant {args.name}")
        elif args.command == "create-key":
            created = await tenants.create_key(args.tenant)
            print(f"created key {created.key_id} for tenant {created.tenant}; it is shown once:")
            print(created.key)
        elif args.command == "revoke-key":
            await tenants.revoke_key(args.key_id)
            print(f"revoked key {args.key_id}")
        else:
            keys = await tenants.list_keys()
            for u in await tenants.usages(await tenants.list_tenants()):
                limits = f"rate_per_s={u.rate_per_s:g} burst={u.burst} "
                limits += f"max_concurrency={u.max_concurrency or 'none'} weight={u.weight}"
                print(f"{u.name}  {limits}")
                for k in (k for k in keys if k.tenant == u.name):
                    print(f"  key {k.key_id}  created {k.created_at.isoformat()}")
        return 0
    finally:
        await redis.aclose()


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
