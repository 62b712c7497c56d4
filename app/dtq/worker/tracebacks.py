"""What a failed attempt leaves behind: the exception's line and the handler's traceback.

The traceback keeps the handler's own frames (and the libraries it called), not the worker's
machinery around them, and is capped in size, keeping its end: the innermost frames and the
exception itself, which are what a reader needs first.
"""

from __future__ import annotations

import traceback
from pathlib import Path

MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 4000
# Frames from these folders are the worker's machinery (or asyncio's), not the handler's.
_MACHINERY = (
    str(Path(__file__).parent),
    str(Path(traceback.__file__).parent / "asyncio"),
    str(Path(traceback.__file__).parent / "concurrent"),
)


def error_line(exc: BaseException) -> str:
    """`Type: message`, capped."""
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def handler_traceback(exc: BaseException) -> str:
    """The exception's traceback without the worker's frames, at most MAX_TRACEBACK_CHARS."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_MACHINERY)
    ]
    text = (
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(frames))
        + "".join(traceback.format_exception_only(exc))
    )
    return capped(text)


def capped(text: str) -> str:
    """The text, or its last MAX_TRACEBACK_CHARS characters after a marker."""
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    return "…(earlier frames cut)\n" + text[-(MAX_TRACEBACK_CHARS - 24) :]
