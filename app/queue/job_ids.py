"""Each tenant's job ids are its own namespace.

A job of a named tenant is stored as `<tenant>.<id>`: two tenants may choose the same id, and
choosing an id another tenant uses reveals nothing (no 409). Ids from clients cannot contain
`.` (JOB_ID_PATTERN), so an id that does is a stored one already. The `default` tenant (and
internal callers that name no tenant) use ids as they are. Redis keys, streams and scripts
only ever see stored ids; the producer and the inspector take and give the tenant's ids.
"""

from __future__ import annotations

from app.models import DEFAULT_TENANT

SEPARATOR = "."


def stored_id(tenant: str | None, job_id: str) -> str:
    """The id a tenant's job is stored under."""
    if tenant is None or tenant == DEFAULT_TENANT or SEPARATOR in job_id:
        return job_id
    return f"{tenant}{SEPARATOR}{job_id}"


def public_id(stored: str) -> str:
    """The id the job's tenant knows a stored job by."""
    return stored.partition(SEPARATOR)[2] or stored
