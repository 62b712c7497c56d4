"""The face of key_lookup.lua: an API key's record and its tenant's definition, read only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dtq.queue.scripts.library import Call, Library


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """The stored record of a key id (JSON) and its tenant's definition (JSON), if any."""

    record: str | None
    tenant: str | None


def key_lookup(lib: Library, *, key_id: str) -> Call[KeyRecord]:
    """Look up a key id; the caller compares the key's hash itself, in constant time."""
    k = lib.keys

    def decode(reply: list[Any]) -> KeyRecord:
        return KeyRecord(reply[0] or None, reply[1] or None)

    return Call(lib.script("key_lookup"), [k.api_keys, k.tenants], [key_id], decode)
