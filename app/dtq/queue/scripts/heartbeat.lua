#!lua flags=allow-oom
--[[
  heartbeat: record that a worker is alive, on the Redis clock.

  Also keeps the flag that lets read.lua write a tenant's run as one shared entry up while
  every live worker reads such entries: this build's workers are in the shared readers as well
  as in the workers, an older build's in the workers only (it would take a shared entry for a
  bell and strand its jobs). Live here: a heartbeat within the info ttl.

  KEYS[1] workers (zset)   KEYS[2] the worker's info hash   KEYS[3] shared readers (zset)
  KEYS[4] shared entries on (flag)
  ARGV[1] worker name   ARGV[2] info ttl (s)   ARGV[3..] info hash field/value pairs

  Returns the Redis time in ms.
]]
local now = now_ms()
local ttl_ms = tonumber(ARGV[2]) * 1000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('HSET', KEYS[2], 'last_seen', now, unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[2], ARGV[2])
local horizon = now - ttl_ms
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. horizon)
if redis.call('ZCOUNT', KEYS[1], horizon, '+inf') == redis.call('ZCARD', KEYS[3]) then
  redis.call('SET', KEYS[4], 1, 'PX', ttl_ms)
else
  redis.call('DEL', KEYS[4])
end
return now
