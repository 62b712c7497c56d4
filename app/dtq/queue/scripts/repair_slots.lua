#!lua flags=allow-oom
--[[
  repair_slots: drop from the running sets of tenants with jobs waiting the ids of jobs that no
  longer hold a slot (a job deleted or expired while dispatched, or any path that missed
  free_slot), so that no tenant stays capped by jobs that are not running. Nothing here
  touches a job that still holds its slot.

  KEYS[1] lanes (zset)
  ARGV[1] the prefix of job hash names

  Returns the number of slots freed.
]]
local lanes, jobs = KEYS[1], ARGV[1]
local freed = 0
for _, tenant in ipairs(redis.call('ZRANGE', lanes, 0, 999)) do
  local set = keyname.running(lanes, tenant)
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    local f = redis.call('HMGET', keyname.job(jobs, id), 'status', 'lane_slot', 'entry')
    -- dispatched and not started yet: start.lua names the slot in lane_slot (see read.lua)
    local dispatched = f[1] == 'pending' and (f[2] or '') == '' and (f[3] or '') == ''
    if (f[1] ~= 'pending' and f[1] ~= 'running') or (f[2] ~= set and not dispatched) then
      redis.call('SREM', set, id)
      freed = freed + 1
    end
  end
end
return freed
