"""`python -m app.api`: serve the control plane with uvicorn on HOST:PORT."""

from __future__ import annotations

import sys

import uvicorn

from app.api.main import create_app
from app.config import configure_logging, load_service_settings
from app.errors import SettingsError


def main() -> int:
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
