--[[
  schedule_put: create or replace a recurring schedule and set its next fire time.

  KEYS[1] schedules (hash: name -> definition JSON)   KEYS[2] schedule due times (zset)
  ARGV[1] name   ARGV[2] definition (JSON)   ARGV[3] next fire time (ms), '' if it never fires

  Returns C.CREATED or C.REPLACED.
]]
local created = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
if created == 1 then return C.CREATED end
return C.REPLACED
