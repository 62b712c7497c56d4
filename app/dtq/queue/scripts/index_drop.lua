#!lua flags=allow-oom
--[[
  index_drop: take ids out of one bucket of a job index (dtq.queue.job_index), and the bucket out
  of the index's directory once it is empty (in one step, so that enqueue.lua never appends to
  a bucket the directory no longer lists).

  KEYS[1] the bucket (zset)   KEYS[2] the index's directory (zset)
  ARGV[1] the bucket's number   ARGV[2..] the ids (none: only the directory is tidied)

  Returns how many ids were removed.
]]
local removed = 0
for i = 2, #ARGV, 1000 do
  removed = removed + redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end
return removed
