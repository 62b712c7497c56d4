"""New job ids: 16 random letters and digits, drawn ahead in bulk but never shared with a forked
process, every character equally likely."""

import os
import re
from collections import Counter

from dtq.models.common import JOB_ID_PATTERN
from dtq.queue.job_ids import ALPHABET, new_job_id, random_text


def test_ids_are_16_letters_and_digits_and_unique() -> None:
    ids = [new_job_id() for _ in range(2000)]  # more than one bulk draw
    assert all(re.fullmatch(r"[0-9A-Za-z]{16}", i) for i in ids)
    assert all(re.fullmatch(JOB_ID_PATTERN, i) for i in ids)  # as a client may name one
    assert len(set(ids)) == len(ids)


def test_every_character_is_equally_likely() -> None:
    """Bytes from 248 up are dropped rather than folded onto the first 8 characters (which
    would make "0".."7" 25 % likelier than the rest)."""
    counts = Counter(random_text(620_000))
    assert set(counts) == set(ALPHABET)
    # 10,000 expected each; a standard deviation is ~99, a fold would add ~2,500 to eight.
    assert max(counts.values()) < 10_600 and min(counts.values()) > 9_400


def test_a_forked_child_draws_ids_of_its_own() -> None:
    new_job_id()  # the parent has ids drawn ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out
        os.write(write, new_job_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 16 and child != new_job_id()
