#!lua
--[[
  schedule_put: create or replace a recurring schedule and set its next fire time, within its
  tenant's budget: at most ARGV[6] schedules, firing at most ARGV[7] times an hour together
  (each schedule counted at its busiest hour). A negative limit is no limit.

  KEYS[1] schedules (hash: name -> definition JSON)   KEYS[2] schedule due times (zset)
  KEYS[3] schedule budgets (hash: <tenant>:count, <tenant>:per_hour)
  KEYS[4] schedule rates (hash: name -> firings in its busiest hour)
  ARGV[1] name   ARGV[2] definition (JSON)   ARGV[3] next fire time (ms), '' if it never fires
  ARGV[4] tenant   ARGV[5] this schedule's firings per busiest hour
  ARGV[6] most schedules   ARGV[7] most firings an hour

  Returns C.CREATED or C.REPLACED
  Errors  {C.SCHEDULE_LIMIT, schedules now}, {C.SCHEDULE_RATE, firings an hour now}
]]
local count_field, rate_field = ARGV[4] .. ':count', ARGV[4] .. ':per_hour'
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
local old_rate = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
local count = tonumber(redis.call('HGET', KEYS[3], count_field) or '0')
local per_hour = tonumber(redis.call('HGET', KEYS[3], rate_field) or '0')
local new_rate, most, most_rate = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if not exists and most >= 0 and count + 1 > most then return {C.SCHEDULE_LIMIT, count} end
if most_rate >= 0 and new_rate > old_rate and per_hour - old_rate + new_rate > most_rate then
  return {C.SCHEDULE_RATE, per_hour}
end

redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not exists then redis.call('HINCRBY', KEYS[3], count_field, 1) end
redis.call('HSET', KEYS[4], ARGV[1], new_rate)
redis.call('HINCRBY', KEYS[3], rate_field, new_rate - old_rate)
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
if exists then return C.REPLACED end
return C.CREATED
