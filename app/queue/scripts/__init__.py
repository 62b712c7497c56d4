"""Load the Lua transitions once and call them by SHA.

Each `*.lua` file is one atomic state transition; its stem is its name here. The shared prelude
`_lib.lua` is prepended to every script at load time.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from app.errors import DTQError, DuplicateJobError, InvalidTransitionError, JobNotFoundError

SCRIPT_NAMES = (
    "enqueue",
    "read",
    "start",
    "complete",
    "fail",
    "promote_due",
    "cancel",
    "redrive",
    "purge",
    "extend_lease",
    "requeue",
    "heartbeat",
    "progress",
    "schedule_put",
    "schedule_delete",
    "schedule_advance",
    "release",
    "trim",
    "admit",
    "key_lookup",
    "repair_slots",
)

# Negative codes the scripts return, mapped to the errors they mean.
NOT_FOUND = -1
WRONG_STATUS = -2
STALE_OWNER = -3
DUPLICATE = -4
POISON = -5
RATE_LIMITED = 2
IDEMPOTENCY_CONFLICT = -6
UNKNOWN_PARENT = -7
CHILDREN_CHANGED = -8


def _source(name: str) -> str:
    folder = resources.files(__package__)
    return (
        folder.joinpath("_lib.lua").read_text() + "\n" + folder.joinpath(f"{name}.lua").read_text()
    )


class Scripts:
    """Every DTQ script, registered on one client (called by SHA, loaded on first use)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(_source(name)) for name in SCRIPT_NAMES
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def load(self) -> None:
        """Load every script into the server's script cache (SCRIPT LOAD)."""
        for script in self._scripts.values():
            script.sha = await self._redis.script_load(script.script)

    async def loaded(self) -> bool:
        """True when the server's script cache holds every script."""
        shas = [s.sha for s in self._scripts.values()]
        return all(await self._redis.script_exists(*shas))


def raise_for_code(result: Any, job_id: str) -> None:
    """Raise the DTQError a single-job script's negative return code stands for."""
    code, status = (result[0], result[1]) if isinstance(result, list) else (result, None)
    if not isinstance(code, int) or code >= 0:
        return
    error: DTQError
    if code == NOT_FOUND:
        error = JobNotFoundError(f"job {job_id} not found")
    elif code == WRONG_STATUS:
        error = InvalidTransitionError(f"job {job_id} is {status}")
    elif code == DUPLICATE:
        error = DuplicateJobError(f"job {job_id} exists already")
    else:
        error = DTQError(f"script returned code {code} for job {job_id}")
    raise error
