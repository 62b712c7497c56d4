"""key_lookup.lua: a key id's record and its tenant's definition, in one read."""

import orjson

from dtq.models import TenantCreate
from dtq.queue import Engine
from dtq.queue.scripts.key_lookup import key_lookup


async def test_known_and_unknown_key_ids(engine: Engine) -> None:
    await engine.tenants.create(TenantCreate(name="acme", weight=2))
    created = await engine.tenants.create_key("acme")
    found = await key_lookup(engine.lib, key_id=created.key_id)
    assert found.record is not None and found.tenant is not None
    assert orjson.loads(found.record)["tenant"] == "acme"
    assert orjson.loads(found.tenant)["weight"] == 2
    missing = await key_lookup(engine.lib, key_id="0" * 16)
    assert (missing.record, missing.tenant) == (None, None)
