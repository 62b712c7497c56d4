#!/usr/bin/env python3
"""Render DTQ's nginx site (dtq.conf.template) the way envsubst does: only ${DTQ_*} names, from
arguments or the environment. Standard library only (EC2 instances run it before any venv).

    python3 deploy/nginx/render.py --listen 80 --api 127.0.0.1:8000 \\
        --ui-root /srv/dtq/current/ui/dist --out /etc/nginx/conf.d/dtq.conf
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "dtq.conf.template"
NAMES = ("DTQ_LISTEN", "DTQ_API_SERVERS", "DTQ_UI_ROOT", "DTQ_MAX_BODY_BYTES")
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # the API's MAX_REQUEST_BYTES default
PLACEHOLDER = re.compile(r"\$\{(DTQ_[A-Z_]+)\}")


def api_servers(addresses: list[str], down: frozenset[str] = frozenset()) -> str:
    """The upstream's server lines; an address in `down` is kept but marked down (drained)."""
    if not addresses:
        raise ValueError("at least one API address is needed")
    return " ".join(
        f"server {a}{' down' if a in down else ''} max_fails=1 fail_timeout=2s;" for a in addresses
    )


def render(values: dict[str, str], template: str | None = None) -> str:
    """The template with every ${DTQ_*} replaced; a missing value is an error, not a blank."""
    text = TEMPLATE.read_text() if template is None else template
    missing = sorted({m for m in PLACEHOLDER.findall(text) if not values.get(m)})
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default=os.environ.get("DTQ_LISTEN", "80"))
    parser.add_argument(
        "--api",
        action="append",
        help="an API instance host:port (repeat for several; default DTQ_API_SERVERS)",
    )
    parser.add_argument("--ui-root", default=os.environ.get("DTQ_UI_ROOT"))
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(os.environ.get("MAX_REQUEST_BYTES", DEFAULT_MAX_BODY_BYTES)),
    )
    parser.add_argument("--out", type=Path, help="write here (default: standard output)")
    args = parser.parse_args(argv)
    servers = api_servers(args.api) if args.api else os.environ.get("DTQ_API_SERVERS", "")
    try:
        text = render(
            {
                "DTQ_LISTEN": args.listen,
                "DTQ_API_SERVERS": servers,
                "DTQ_UI_ROOT": args.ui_root or "",
                "DTQ_MAX_BODY_BYTES": str(args.max_body_bytes),
            }
        )
    except ValueError as exc:
        print(f"error: {exc} (see --help)", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
