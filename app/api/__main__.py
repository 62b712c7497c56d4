"""`python -m app.api`: serve the control plane with uvicorn on HOST:PORT."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from app.api.main import create_app
from app.config import Settings


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if not settings.REDIS_URL:
        print(
            "error: REDIS_URL is not set (./run-dev.sh starts an embedded server and sets it)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
