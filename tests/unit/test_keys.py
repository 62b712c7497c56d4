import re

from dtq.config import Settings
from dtq.queue.keys import Keys


def _slot_tag(key: str) -> str:
    match = re.search(r"\{([^}]*)\}", key)
    assert match, key
    return match.group(1)


def test_every_key_carries_the_shard_hash_tag() -> None:
    keys = Keys("dtq", "7")
    names = [
        keys.stream,
        keys.dlq,
        keys.delayed,
        keys.index,
        keys.stats,
        keys.events,
        keys.workers,
        keys.housekeeping_lock,
        keys.job("ab" * 16),
        keys.worker("w1"),
    ]
    assert {_slot_tag(k) for k in names} == {"7"}
    assert len(set(names)) == len(names)


def test_keys_follow_settings() -> None:
    settings = Settings(_env_file=None, KEY_PREFIX="acme", JOB_STREAM="jobs", DLQ_STREAM="dead")  # type: ignore[call-arg]
    keys = Keys.from_settings(settings)
    assert keys.stream == "acme:{0}:jobs"
    assert keys.dlq == "acme:{0}:dead"
    assert keys.job("x") == "acme:{0}:job:x"
