"""Each tenant's job ids and schedule names are its own namespace, stored under one scheme.

A named tenant's job `<id>` is stored as `<tenant>/<id>`, and its schedule `<name>` as
`<tenant>/<name>`: two tenants may choose the same id or name, and choosing one another tenant
uses reveals nothing (no 409). Ids, names and tenant names from clients cannot contain `/`, so
an id that does is a stored one already. The `default` tenant (and internal callers that name no
tenant) use ids as they are. Redis keys, streams, scripts and events only ever see stored ids;
the engine's public methods take and give the tenant's own, converting here and only here.
"""

from __future__ import annotations

from dtq.models import DEFAULT_TENANT

SEPARATOR = "/"


def stored_id(tenant: str | None, public: str) -> str:
    """The id (or schedule name) a tenant's object is stored under."""
    if tenant is None or tenant == DEFAULT_TENANT or SEPARATOR in public:
        return public
    return f"{tenant}{SEPARATOR}{public}"


def public_id(stored: str) -> str:
    """The id (or schedule name) the object's tenant knows a stored one by."""
    return stored.partition(SEPARATOR)[2] or stored


def tenant_of(stored: str) -> str:
    """The tenant a stored id (or schedule name) belongs to."""
    tenant, separator, _ = stored.partition(SEPARATOR)
    return tenant if separator else DEFAULT_TENANT
