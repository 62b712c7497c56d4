"""New job ids: 128 random bits as 32 hex characters, drawn ahead in bulk but never shared with
a forked process."""

import os
import re

from dtq.queue.producer import new_job_id


def test_ids_are_32_hex_characters_and_unique() -> None:
    ids = [new_job_id() for _ in range(2000)]  # more than one bulk draw
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


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
    assert len(child) == 32 and child != new_job_id()
