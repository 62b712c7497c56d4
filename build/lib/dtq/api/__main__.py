"""`dtq api` (or `python -m dtq.api`): serve the control plane with uvicorn on HOST:PORT."""

from __future__ import annotations

import sys

import uvicorn

from dtq.api.main import create_app
from dtq.config import configure_logging, load_service_settings
from dtq.errors import SettingsError


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped; exit status 2 for bad settings. Takes no arguments (settings are
    environment variables)."""
    if argv:
        print(
            f"error: dtq api takes no arguments (got {' '.join(argv)}); settings are "
            "environment variables, e.g. PORT=9000 dtq api",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_service_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.LOG_LEVEL)
    try:
        app = create_app(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
        h11_max_incomplete_event_size=settings.MAX_HEADER_BYTES,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
