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
# orjson reads an integer of 2^64 or more as a float: a float under 2^63 in size was one in the
# text already.
FLOAT_EXACT = float(2**63)


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


def _depth_exceeds(outside_strings: bytes, limit: int) -> bool:
    """Whether JSON text, its strings taken out, nests arrays/objects deeper than `limit`."""
    depth = 0
    for c in outside_strings.translate(None, NOT_BRACKETS):
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
    outside_strings = JSON_STRING.sub(b"", body)
    if _depth_exceeds(outside_strings, max_depth):
        raise StrictJsonError(
            422, "json_too_deep", f"the JSON body nests deeper than MAX_JSON_DEPTH ({max_depth})"
        )
    try:  # the fast C parser refuses bad UTF-8, lone surrogates, NaN and Infinity
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise StrictJsonError(422, "invalid_json", f"the body is not valid JSON: {exc}") from None
    # What orjson lets through, it lets through silently: a repeated key (the last wins), an
    # integer past 64 bits (a float from 2^64). Each colon outside strings separates one
    # member, so a value with as many members, no integer out of range and no float that could
    # have been one is what the text says. Otherwise this slower pass finds the fault (or
    # finds none: a float such as 1e19 written as one).
    if _members(value) == outside_strings.count(b":"):
        return value
    return json.loads(body, object_pairs_hook=_object, parse_int=_int, parse_float=_float)


def _members(value: Any) -> int:
    """The object members in a parsed value; -1 for a number orjson may have changed."""
    stack = [value]
    members = 0
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            members += len(v)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, int):
            if not INT_MIN <= v <= INT_MAX:
                return -1
        elif isinstance(v, float) and not -FLOAT_EXACT < v < FLOAT_EXACT:
            return -1
    return members
