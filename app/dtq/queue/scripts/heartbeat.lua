#!lua flags=allow-oom
--[[
  heartbeat: record that a worker is alive, on the Redis clock.

  KEYS[1] workers (zset)   KEYS[2] the worker's info hash
  ARGV[1] worker name   ARGV[2] info ttl (s)   ARGV[3..] info hash field/value pairs

  Returns the Redis time in ms.
]]
local now = now_ms()
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], 'last_seen', now, unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return now
