#!lua flags=allow-oom
--[[
  promote_due: move scheduled jobs whose due time has come back onto their queue's stream.

  The caller reads candidate ids from the delayed set; this script re-checks each one against the
  Redis clock and removes it from the set before promoting it, so concurrent promoters never
  promote a job twice and a job that is not due yet stays where it is.

  KEYS[1] delayed (zset)   KEYS[2] stats   KEYS[3] events   KEYS[3+i] hash of job i
  A job of a tenant with a lane goes back to its lane, not to the stream.
  ARGV[1] events maxlen   ARGV[2] n   ARGV[3] the shard's key base   ARGV[4] the stream name
  ARGV[4+i] id of job i

  Returns the number of jobs promoted.
]]
local n = tonumber(ARGV[2])
local base, stream_name = ARGV[3], ARGV[4]
local now = now_ms()
local promoted = 0
local ids = {}
local laned = {}  -- queue name -> its keys: lanes to ring
local active = {}

for i = 1, n do
  local id = ARGV[4 + i]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= now then
    redis.call('ZREM', KEYS[1], id)
    local key = KEYS[3 + i]
    local f = redis.call('HMGET', key, 'status', 'history', 'priority', 'lane', 'queue')
    if f[1] == 'scheduled' then
      local q = queue_keys(base, stream_name, f[5])
      local entry = ''
      if f[4] then
        active[q] = active[q] or {}
        lane_push(q.lanes, f[4], level_of(f[3]), id, active[q])
        laned[q] = true
      else
        entry = redis.call('XADD', q.streams[level_of(f[3])], '*', 'id', id)
      end
      redis.call('HSET', key, 'status', 'pending', 'entry', entry, 'deliveries', 0,
        'history', appended(f[2], 'pending', now, '', '', 'due'))
      redis.call('HDEL', key, 'due_at')
      redis.call('HSET', key, 'ready_at', now)
      promoted = promoted + 1
      ids[promoted] = id
    end
  end
end

for q in pairs(laned) do ring(q.lanes, q.streams[3]) end
if promoted > 0 then
  emit_ids(KEYS[3], ARGV[1], ids, 'pending', now)
  redis.call('HINCRBY', KEYS[2], 'jobs:scheduled', -promoted)
  redis.call('HINCRBY', KEYS[2], 'jobs:pending', promoted)
end
return promoted
