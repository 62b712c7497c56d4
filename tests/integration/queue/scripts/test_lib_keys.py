"""The key names Lua builds (_lib.lua's keyname) are the names keys.py builds."""

from importlib import resources

from dtq.queue import Engine


async def test_keyname_agrees_with_keys(engine: Engine) -> None:
    k = engine.keys
    lib = resources.files("dtq.queue.scripts").joinpath("_lib.lua").read_text()
    body = """
return {keyname.lane(ARGV[1], ARGV[2], ARGV[3]), keyname.running(ARGV[1], ARGV[2]),
        keyname.bell(ARGV[1]), keyname.capped(ARGV[1]), keyname.job(ARGV[4], ARGV[5])}
"""
    for tenant, level in (("acme", 0), ("globex-2", 3)):
        reply = await engine.redis.eval(
            lib + body, 0, k.lanes, tenant, level + 1, k.job_prefix, "acme/x1"
        )
        expected = [k.lane(tenant, level), k.running(tenant), k.bell, k.queue().capped]
        assert reply == [*expected, k.job("acme/x1")]


async def test_keyname_queue_agrees_with_queue_keys(engine: Engine) -> None:
    k = engine.keys
    lib = resources.files("dtq.queue.scripts").joinpath("_lib.lua").read_text()
    body = """
local q = keyname.queue(ARGV[1], ARGV[2], ARGV[3])
return {q.streams[1], q.streams[2], q.streams[3], q.streams[4], q.lanes}
"""
    for name in ("default", "emails", "gpu.v2"):
        reply = await engine.redis.eval(lib + body, 0, k.base, k.stream_name, name)
        q = k.queue(name)
        assert reply == [*q.streams, q.lanes]
    assert k.queue("default").stream == k.stream
