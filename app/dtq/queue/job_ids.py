"""New job ids: 16 random letters and digits (95 bits), drawn from the OS's random source.

Why 16 and not a UUID's 32 hex characters: every job keeps its id in four to six places (its
key, its stream entry, its index bucket, the retention list, an events entry per transition),
so each character is paid for several times over. With 16, the job's key under the default
prefix (`dtq:{0}:job:<id>`, 28 characters) fits a 32-byte allocation instead of a 48-byte one.
95 random bits are about Sidekiq's 96: the chance that any two of a billion jobs stored at once
share an id is about 1e-11, and an id is no easier to guess than a 95-bit secret. Letters and
digits only, so an id never starts with `-` (which a command line would take for an option).
Ids chosen by clients and ids of earlier builds (32 hex characters) are as valid as ever.
"""

from __future__ import annotations

import os
import string

ID_LENGTH = 16
ALPHABET = string.digits + string.ascii_letters
# Byte b -> ALPHABET[b % 62]; bytes from 248 (= 4 * 62) up are dropped, so that every character
# is equally likely.
_TO_TEXT = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
_UNEVEN = bytes(range(4 * len(ALPHABET), 256))

_drawn: list[str] = []  # ids drawn ahead (one read of the OS's random source for many)
os.register_at_fork(after_in_child=_drawn.clear)  # never the parent's


def random_text(length: int) -> str:
    """`length` random letters and digits (log2(62), about 5.95 bits each)."""
    out = b""
    while len(out) < length:
        out += os.urandom(length + length // 16 + 8).translate(_TO_TEXT, _UNEVEN)
    return out[:length].decode()


def new_job_id() -> str:
    """A new random job id: ID_LENGTH letters and digits."""
    if not _drawn:
        pool = random_text(ID_LENGTH * 256)
        _drawn.extend(pool[i : i + ID_LENGTH] for i in range(0, len(pool), ID_LENGTH))
    return _drawn.pop()
