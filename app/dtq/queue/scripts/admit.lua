#!lua
--[[
  admit: a tenant's submission rate limit, a token bucket on the Redis clock shared by every API
  instance. A request of `cost` submissions is admitted whole or not at all; a refused request
  takes no tokens.

  KEYS[1] the tenant's bucket (hash: tokens, at)
  ARGV[1] refill rate (tokens per second)   ARGV[2] burst (bucket size)   ARGV[3] cost

  Returns {admitted (1 or 0), tokens left (floor), ms until `cost` tokens are there (0 when
    admitted), ms until the bucket is full again}
]]
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local admitted = 0
local wait = 0
if cost <= tokens then
  tokens = tokens - cost
  admitted = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
local full = math.ceil((burst - tokens) * 1000 / rate)
-- Lua numbers are doubles: store the fraction as a string so no precision is lost.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], full + 1000)
return {admitted, math.floor(tokens), wait, full}
