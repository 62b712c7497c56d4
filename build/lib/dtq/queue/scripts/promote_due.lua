--[[
  promote_due: move scheduled jobs whose due time has come back onto the job stream.

  The caller reads candidate ids from the delayed set; this script re-checks each one against the
  Redis clock and removes it from the set before promoting it, so concurrent promoters never
  promote a job twice and a job that is not due yet stays where it is.

  KEYS[1] delayed (zset)   KEYS[2..5] job streams, critical to low   KEYS[6] stats
  KEYS[7] events   KEYS[8] lanes (zset)   KEYS[8+i] hash of job i
  A job of a tenant with a lane goes back to its lane, not to the stream.
  ARGV[1] events maxlen   ARGV[2] n   ARGV[2+i] id of job i

  Returns the number of jobs promoted.
]]
local n = tonumber(ARGV[2])
local now = now_ms()
local promoted = 0
local ids = {}
local laned = false
local active = {}

for i = 1, n do
  local id = ARGV[2 + i]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= now then
    redis.call('ZREM', KEYS[1], id)
    local key = KEYS[8 + i]
    local f = redis.call('HMGET', key, 'status', 'history', 'priority', 'lane')
    if f[1] == 'scheduled' then
      local entry = ''
      if f[4] then
        lane_push(KEYS[8], f[4], level_of(f[3]), id, active)
        laned = true
      else
        entry = redis.call('XADD', KEYS[1 + level_of(f[3])], '*', 'id', id)
      end
      redis.call('HSET', key, 'status', 'pending', 'entry', entry, 'deliveries', 0,
        'history', appended(f[2], 'pending', now, '', '', 'due'))
      redis.call('HDEL', key, 'due_at')
      promoted = promoted + 1
      ids[promoted] = id
    end
  end
end

if laned then ring(KEYS[8], KEYS[4]) end
if promoted > 0 then
  emit(KEYS[7], ARGV[1], table.concat(ids, ','), 'pending', now)
  redis.call('HINCRBY', KEYS[6], 'jobs:scheduled', -promoted)
  redis.call('HINCRBY', KEYS[6], 'jobs:pending', promoted)
end
return promoted
