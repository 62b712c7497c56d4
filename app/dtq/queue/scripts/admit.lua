#!lua
--[[
  admit: take `cost` submissions from a tenant's rate limit (_lib.lua's take_tokens), for
  submissions that enqueue.lua does not admit itself (batches, schedules, redrives).

  KEYS[1] the tenant's bucket (hash: tokens, at)
  ARGV[1] refill rate (tokens per second)   ARGV[2] burst (bucket size)   ARGV[3] cost

  Returns {admitted (1 or 0), tokens left (floor), ms until `cost` tokens are there (0 when
    admitted), ms until the bucket is full again}
]]
return take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), now_ms())
