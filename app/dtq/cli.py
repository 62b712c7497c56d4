"""`dtq`: the one command line, with a subcommand per process or tool.

    dtq api                       the HTTP control plane (settings from the environment)
    dtq worker --tasks MODULE     a worker serving the task modules given
    dtq admin COMMAND ...         tenants and API keys
    dtq redis [--dir D]           an embedded Redis/Valkey for development (REDIS_URL=... printed)
    dtq cluster [--dir D]         a local cluster, 3 masters and 3 replicas (REDIS_URL=... printed)

`python -m dtq.api`, `python -m dtq.worker`, `python -m dtq.admin`,
`python -m dtq.embedded_redis` and `python -m dtq.local_cluster` run the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

USAGE = __doc__.split("\n\n")[1] if __doc__ else ""


def _api(argv: list[str]) -> int:
    from dtq.api.__main__ import main

    return main(argv)


def _worker(argv: list[str]) -> int:
    from dtq.worker.__main__ import main

    return main(argv)


def _admin(argv: list[str]) -> int:
    from dtq.admin import main

    return main(argv)


def _cluster(argv: list[str]) -> int:
    from dtq.local_cluster import main

    return main(argv)


def _redis(argv: list[str]) -> int:
    from dtq.embedded_redis import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "api": _api,
    "worker": _worker,
    "admin": _admin,
    "redis": _redis,
    "cluster": _cluster,
}


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; exit status 2 (with the usage) for an unknown one."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(f"usage:\n{USAGE}")
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"dtq: unknown command {args[0]!r}\nusage:\n{USAGE}", file=sys.stderr)
        return 2
    if args[0] == "api" and args[1:] in (["-h"], ["--help"]):
        print(
            "usage: dtq api\n\nServe the HTTP control plane; every setting is an environment "
            "variable (see .env.example), e.g. PORT=9000 REDIS_URL=redis://... dtq api"
        )
        return 0
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
