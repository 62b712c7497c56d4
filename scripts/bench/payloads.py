"""The payload a bench job carries: `--payload-bytes` of JSON."""

from __future__ import annotations

from pydantic import JsonValue


def payload_of(size: int) -> dict[str, JsonValue]:
    """A JSON object of `size` bytes once serialised (`{}` for 2)."""
    return {"d": "x" * (size - 8)} if size > 8 else {}
