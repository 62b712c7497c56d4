#!lua flags=allow-oom
--[[
  ensure_groups: create each job stream and its consumer group where missing, reading from the
  start of the stream (jobs submitted before any worker listened are read too). A script, and
  allowed when Redis is full: XGROUP CREATE alone is refused then, even for a group that
  exists, and a worker must be able to start and drain a full Redis.

  Also starts each queue's count of running jobs (_lib.lua's running_field) where it has none:
  from its streams' pending entries, which a build from before shared entries held one per
  running job.

  KEYS[1] stats   KEYS[2..n+1] job streams, critical to low, four per queue
  ARGV[1] consumer group

  Returns the number of groups created
]]
local created = 0
for i = 2, #KEYS do
  local ok = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[i], ARGV[1], '0', 'MKSTREAM')
  if ok then created = created + 1 end
end
for first = 2, #KEYS - 3, 4 do
  local field = running_field(KEYS[first + 2])
  if redis.call('HEXISTS', KEYS[1], field) == 0 then
    local running = 0
    for i = first, first + 3 do
      local ok, summary = pcall(redis.call, 'XPENDING', KEYS[i], ARGV[1])
      if ok then running = running + summary[1] end
    end
    redis.call('HSET', KEYS[1], field, running)
  end
end
return created
