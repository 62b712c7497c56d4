#!lua
--[[
  schedule_advance: move a schedule's next fire time from the tick just fired to the next one,
  only if nobody else did (compare and set), and only while the schedule still exists.

  KEYS[1] schedules (hash)   KEYS[2] schedule due times (zset)
  ARGV[1] name   ARGV[2] the fired tick (ms)   ARGV[3] the next tick (ms)

  Returns C.DONE when advanced, C.NOTHING when another firer advanced it first or it was
  deleted.
]]
local current = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not current or tonumber(current) ~= tonumber(ARGV[2]) then return C.NOTHING end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return C.NOTHING end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return C.DONE
