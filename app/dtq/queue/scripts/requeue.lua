#!lua flags=allow-oom
--[[
  requeue: give a job a new stream entry after its entry vanished while unacknowledged
  (XAUTOCLAIM reported it deleted: someone ran XDEL or XTRIM on the job stream).

  KEYS[1] job hash   KEYS[2..5] job streams, critical to low   KEYS[6] stats   KEYS[7] events
  ARGV[1] job id   ARGV[2] the deleted entry id   ARGV[3] events maxlen
  ARGV[4] the level (1-4) of the stream the entry was deleted from

  Returns C.DONE requeued, C.NOTHING nothing to do (the job moved on, or is gone)
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'entry', 'history', 'priority')
local level = level_of(f[4])
if (f[1] ~= 'pending' and f[1] ~= 'running') or f[2] ~= ARGV[2] or level ~= tonumber(ARGV[4]) then
  return C.NOTHING
end

local now = now_ms()
local entry = redis.call('XADD', KEYS[1 + level], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'pending', 'entry', entry,
  'history', appended(written_out(f[3], KEYS[1]), 'pending', now, '', '', 'entry_deleted'))
if f[1] == 'running' then
  redis.call('HINCRBY', KEYS[6], 'jobs:running', -1)
  redis.call('HINCRBY', KEYS[6], running_field(KEYS[4]), -1)
  redis.call('HINCRBY', KEYS[6], 'jobs:pending', 1)
end
emit(KEYS[7], ARGV[3], ARGV[1], 'pending', now, 'reason', 'entry_deleted')
return C.DONE
