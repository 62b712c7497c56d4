--[[
  cancel: cancel a pending, scheduled or running job. The cancel is durable: it is recorded on the
  job, so no start, completion or retry happens after it, whatever restarts in between.

  A pending job's stream entry is deleted at once unless a worker has it in hand (that worker's
  start script then sees `canceled`, acks and deletes it). A running job's entry is acked and
  deleted here, and the job id is published on the cancel channel so that its worker stops the
  handler at once; its late completion, if any, is refused by fencing. A canceled job expires
  after the result TTL like any finished job.

  KEYS[1] job hash   KEYS[2] delayed (zset)   KEYS[3] job stream   KEYS[4] stats   KEYS[5] events
  ARGV[1] consumer group   ARGV[2] job id   ARGV[3] result ttl (s)   ARGV[4] events maxlen
  ARGV[5] cancel channel

  Returns 1 when canceled
  Errors  -1 no such job (JobNotFoundError)
          {-2, status} the job is finished (InvalidTransitionError)
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'entry', 'worker', 'attempt', 'history')
local status, entry = f[1], f[2]
if not status then return -1 end
if status ~= 'pending' and status ~= 'scheduled' and status ~= 'running' then
  return {-2, status}
end

local now = now_ms()
if status == 'scheduled' then
  redis.call('ZREM', KEYS[2], ARGV[2])
elseif status == 'running' then
  redis.call('XACK', KEYS[3], ARGV[1], entry)
  redis.call('XDEL', KEYS[3], entry)
  redis.call('PUBLISH', ARGV[5], ARGV[2])
elseif entry and entry ~= '' then
  local delivered = redis.call('XPENDING', KEYS[3], ARGV[1], entry, entry, 1)
  if #delivered == 0 then redis.call('XDEL', KEYS[3], entry) end
end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', now, 'entry', '',
  'history', appended(written_out(f[5], KEYS[1]), 'canceled', now, f[3], f[4], 'was ' .. status))
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'jobs:' .. status, -1)
redis.call('HINCRBY', KEYS[4], 'jobs:canceled', 1)
emit(KEYS[5], ARGV[4], ARGV[2], 'canceled', now, 'was', status, 'worker', f[3] or '')
return 1
