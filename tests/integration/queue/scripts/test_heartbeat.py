"""heartbeat.lua: a worker is live on the Redis clock, with an info hash that expires."""

from dtq.queue import Engine
from dtq.queue.clock import redis_now_ms


async def test_heartbeat_marks_live_and_describes_the_worker(engine: Engine) -> None:
    before = await redis_now_ms(engine.redis)
    at = await engine.heartbeat("w1", {"tasks": "a,b", "pid": 42})
    assert before <= at <= before + 1000
    assert await engine.redis.zscore(engine.keys.workers, "w1") == at
    info = await engine.redis.hgetall(engine.keys.worker("w1"))
    assert (info["tasks"], info["pid"], info["last_seen"]) == ("a,b", "42", str(at))
    assert 0 < await engine.redis.ttl(engine.keys.worker("w1")) <= engine.workers.ttl_s
    assert await engine.workers.live() == ["w1"]
    serving = await engine.workers.serving()
    assert serving.pairs == {("default", "a"), ("default", "b")}
    assert serving.listeners == {"default": 1}
    await engine.heartbeat("w2", {"tasks": "c", "queues": "emails,default"})
    serving = await engine.workers.serving()
    assert {("emails", "c"), ("default", "c"), ("default", "a")} <= serving.pairs
    assert serving.listeners == {"default": 2, "emails": 1}
    await engine.forget_worker("w1")
    assert await engine.workers.live() == ["w2"]


async def test_a_silent_worker_is_not_live(engine: Engine) -> None:
    await engine.heartbeat("w1", {"tasks": "a"})
    silent_since = await redis_now_ms(engine.redis) - engine.workers.live_for_ms - 1
    await engine.redis.zadd(engine.keys.workers, {"w1": silent_since})
    assert await engine.workers.live() == []
