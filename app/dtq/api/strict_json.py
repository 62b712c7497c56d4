"""The one JSON reader every request body passes before a route sees it.

Stricter than the JSON RFC allows a parser to be, so that what is stored is what was sent:
UTF-8 only, no NaN or Infinity (nor numbers that overflow to it, such as 1e400), no duplicate
object keys (the last would win silently), integers within 64 bits (-2^63 .. 2^63-1: larger
ones would come back as floats; send them as strings), and no nesting deeper than the limit
(checked before parsing, so a deep body costs no recursion).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


class StrictJsonError(ValueError):
    """A body the reader refuses: `status`, a stable `code` and a short `detail`."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def is_json_media_type(content_type: bytes) -> bool:
    """Whether a Content-Type names JSON (application/json or application/*+json, any case)."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (strings are skipped)."""
    brackets = JSON_STRING.sub(b"", body).translate(None, NOT_BRACKETS)
    depth = 0
    for c in brackets:
        if c in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise StrictJsonError(
            422, "json_duplicate_key", f"the JSON body repeats the key {excerpt(twice, 40)}"
        )
    return value


def _int(text: str) -> int:
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise StrictJsonError(
            422,
            "json_number_out_of_range",
            f"the integer {excerpt(text, 24)} is outside -2^63..2^63-1: send it as a string",
        )
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError(
            422,
            "json_number_out_of_range",
            f"the number {excerpt(text, 24)} is too large for a 64-bit float",
        )
    return value


def excerpt(value: object, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters: what an error may quote of the input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_json(body: bytes, max_depth: int) -> Any:
    """The parsed body, or StrictJsonError (400 for a body that is not UTF-8 text, 422 for text
    that is not JSON or JSON that breaks one of the rules above)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJsonError(
            400, "invalid_encoding", f"the body is not UTF-8 text (byte {exc.start})"
        ) from None
    if json_depth_exceeds(body, max_depth):
        raise StrictJsonError(
            422, "json_too_deep", f"the JSON body nests deeper than MAX_JSON_DEPTH ({max_depth})"
        )
    try:  # the fast C parser refuses bad UTF-8, lone surrogates, NaN and Infinity
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise StrictJsonError(422, "invalid_json", f"the body is not valid JSON: {exc}") from None
    # ...and this pass refuses what orjson lets through: repeated keys, integers past 64 bits.
    return json.loads(body, object_pairs_hook=_object, parse_int=_int, parse_float=_float)
