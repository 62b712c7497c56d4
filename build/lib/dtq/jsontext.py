"""JSON text of payloads and results: orjson, with the stdlib for what orjson refuses.

orjson refuses integers beyond 64 bits, which are valid JSON; the stdlib writes them. A string
holding a lone surrogate (possible through a "\\ud800" escape) has no UTF-8 form at all, so it
is refused with InvalidPayloadError.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from dtq.errors import InvalidPayloadError


def dumps(value: Any, sort_keys: bool = False) -> bytes:
    """The compact JSON text of `value`, as UTF-8."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        text = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError as exc:
            raise InvalidPayloadError(
                "a string in the payload is not valid Unicode (a lone surrogate escape)"
            ) from exc
