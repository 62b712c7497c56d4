--[[
  cancel: cancel a pending or scheduled job.

  A pending job's stream entry is deleted at once unless a worker has it in hand (then that
  worker's start script sees `canceled`, acks and deletes it). A canceled job expires after the
  result TTL like any finished job.

  KEYS[1] job hash   KEYS[2] delayed (zset)   KEYS[3] job stream   KEYS[4] stats   KEYS[5] events
  ARGV[1] consumer group   ARGV[2] job id   ARGV[3] result ttl (s)   ARGV[4] events maxlen

  Returns 1 when canceled
  Errors  -1 no such job (JobNotFoundError)
          -2 the job is running or finished, with its status: {-2, status} (InvalidTransitionError)
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'entry')
local status = f[1]
if not status then return -1 end
if status ~= 'pending' and status ~= 'scheduled' then return {-2, status} end

local now = now_ms()
if status == 'scheduled' then
  redis.call('ZREM', KEYS[2], ARGV[2])
elseif f[2] and f[2] ~= '' then
  local delivered = redis.call('XPENDING', KEYS[3], ARGV[1], f[2], f[2], 1)
  if #delivered == 0 then redis.call('XDEL', KEYS[3], f[2]) end
end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', now)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'jobs:' .. status, -1)
redis.call('HINCRBY', KEYS[4], 'jobs:canceled', 1)
emit(KEYS[5], ARGV[4], ARGV[2], 'canceled', now)
return 1
