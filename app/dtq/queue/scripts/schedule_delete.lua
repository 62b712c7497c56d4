#!lua
--[[
  schedule_delete: remove a schedule and its next fire time, and give back its budget.

  KEYS[1] schedules (hash)   KEYS[2] schedule due times (zset)
  KEYS[3] schedule budgets (hash)   KEYS[4] schedule rates (hash)
  ARGV[1] name   ARGV[2] tenant

  Returns C.DONE when deleted
  Errors  C.SCHEDULE_NOT_FOUND no such schedule
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return C.SCHEDULE_NOT_FOUND end
redis.call('ZREM', KEYS[2], ARGV[1])
local rate = redis.call('HGET', KEYS[4], ARGV[1])
if rate then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[3], ARGV[2] .. ':count', -1)
  redis.call('HINCRBY', KEYS[3], ARGV[2] .. ':per_hour', 0 - tonumber(rate))
end
return C.DONE
