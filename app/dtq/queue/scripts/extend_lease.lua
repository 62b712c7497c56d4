#!lua flags=allow-oom
--[[
  extend_lease: reset the idle time of entries this consumer is running, so that XAUTOCLAIM
  does not reclaim them while their worker is alive. Only entries that this consumer still owns
  (in the pending entries list and on the job hash, same attempt) are touched.

  KEYS[1..4] job streams, critical to low   KEYS[4+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] n
  ARGV[4 + 3(i-1) ..] job i: stream level (1-4), stream entry id, attempt

  Returns one code per job: C.DONE lease extended, C.NOTHING the job moved on under this very
    consumer and attempt (it settled meanwhile: no lease to keep, and nothing lost), C.STALE
    lost (another owner or attempt holds the job, or it was canceled or reclaimed)
]]
local group, consumer = ARGV[1], ARGV[2]
local n = tonumber(ARGV[3])
local out = {}
local entries = {}  -- 'stream entry' -> still owned

for i = 1, n do
  local o = 3 + 3 * (i - 1)
  local stream, entry, attempt = KEYS[tonumber(ARGV[o + 1])], ARGV[o + 2], ARGV[o + 3]
  local f = redis.call('HMGET', KEYS[4 + i], 'status', 'worker', 'attempt', 'entry')
  local owned = f[1] == 'running' and f[2] == consumer and f[3] == attempt and f[4] == entry
  if owned then  -- a shared entry (a run of jobs) is looked at and reset once
    local seen = stream .. ' ' .. entry
    if entries[seen] == nil then
      entries[seen] = #redis.call('XPENDING', stream, group, 'IDLE', 0, entry, entry, 1,
        consumer) == 1
      if entries[seen] then redis.call('XCLAIM', stream, group, consumer, 0, entry, 'JUSTID') end
    end
    owned = entries[seen]
  end
  if owned then
    out[i] = C.DONE
  elseif f[2] == consumer and f[3] == attempt and f[1] ~= 'running' and f[1] ~= 'canceled' then
    out[i] = C.NOTHING  -- settled by this attempt: succeeded, dead or scheduled for a retry
  else
    out[i] = C.STALE
  end
end
return out
