--[[
  schedule_delete: remove a schedule and its next fire time.

  KEYS[1] schedules (hash)   KEYS[2] schedule due times (zset)
  ARGV[1] name

  Returns C.DONE when deleted
  Errors  C.SCHEDULE_NOT_FOUND no such schedule
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return C.SCHEDULE_NOT_FOUND end
redis.call('ZREM', KEYS[2], ARGV[1])
return C.DONE
