#!lua
--[[
  resume_queue: resume a paused queue. Its pause flag goes, and the jobs workers read while it
  was paused (start.lua held them) go back on its streams, or into their tenants' lanes, in the
  order they were held. Jobs canceled meanwhile are dropped.

  KEYS[1] the queue's pause flag   KEYS[2] its held list   KEYS[3..6] its job streams, critical
  to low   KEYS[7] its lanes (zset)
  ARGV[1] the prefix of job hash names

  Returns the number of jobs put back.
]]
local streams = {KEYS[3], KEYS[4], KEYS[5], KEYS[6]}
local lanes = KEYS[7]
redis.call('DEL', KEYS[1])
local back, laned, active = 0, false, {}
while true do
  local id = redis.call('LPOP', KEYS[2])
  if not id then break end
  local key = keyname.job(ARGV[1], id)
  local f = redis.call('HMGET', key, 'status', 'entry', 'priority', 'lane')
  if f[1] == 'pending' and (not f[2] or f[2] == '') then
    if f[4] then
      lane_push(lanes, f[4], level_of(f[3]), id, active)
      laned = true
    else
      redis.call('HSET', key, 'entry', redis.call('XADD', streams[level_of(f[3])], '*', 'id', id))
    end
    back = back + 1
  end
end
if laned then ring(lanes, streams[3]) end
return back
