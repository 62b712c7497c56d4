#!lua flags=allow-oom
--[[
  retire: apply one queue's retention to the finished jobs it already keeps: those older than
  the policy's age, or beyond its count, are removed (with their tombstones), per kind at most
  1,000 past the age and 1,000 beyond the count a call (a short call whatever the backlog). The
  scripts that finish jobs do the same as they finish them; housekeeping calls this for every
  queue, so that a queue where nothing finishes any more still lets its jobs go.

  KEYS[1] the queue's succeeded jobs (list)   KEYS[2] its canceled jobs (list)
  KEYS[3] retention policies (hash)   KEYS[4] job index (zset)   KEYS[5] tombstones (zset)
  ARGV[1] queue name   ARGV[2..5] retention defaults (succeeded count, s, canceled count, s)
  ARGV[6] job key prefix   ARGV[7] most tombstones

  Returns how many jobs were removed.
]]
local now = now_ms()
local removed = 0
for i, kind in ipairs({'succeeded', 'canceled'}) do
  removed = removed + retain({retention = KEYS[3], finished = KEYS[i], job_prefix = ARGV[6],
    index = KEYS[4], gone = KEYS[5], gone_max = tonumber(ARGV[7]),
    defaults = retention_defaults(2)}, ARGV[1], kind, {}, {}, now)
end
return removed
