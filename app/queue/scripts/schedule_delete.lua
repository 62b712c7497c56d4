--[[
  schedule_delete: remove a schedule and its next fire time.

  KEYS[1] schedules (hash)   KEYS[2] schedule due times (zset)
  ARGV[1] name

  Returns 1 when deleted, -1 when there is no such schedule (ScheduleNotFoundError).
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
