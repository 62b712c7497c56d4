#!lua flags=allow-oom
--[[
  progress: record a running job's progress, fenced like complete (only its current owner and
  attempt may report).

  KEYS[1] job hash   KEYS[2] events
  ARGV[1] job id   ARGV[2] consumer   ARGV[3] attempt   ARGV[4] percent (0-100)
  ARGV[5] message   ARGV[6] events maxlen

  Returns C.DONE when recorded, C.STALE when another owner or attempt holds the job
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'worker', 'attempt')
if f[1] ~= 'running' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then return C.STALE end
local now = now_ms()
redis.call('HSET', KEYS[1], 'progress', ARGV[4], 'progress_message', ARGV[5], 'progress_at', now)
emit(KEYS[2], ARGV[6], ARGV[1], 'progress', now, 'percent', ARGV[4], 'message', ARGV[5])
return C.DONE
