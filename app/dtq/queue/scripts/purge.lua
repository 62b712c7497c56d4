#!lua flags=allow-oom
--[[
  purge: delete a dead job and its dead-letter entry for good.

  KEYS[1] job hash   KEYS[2] dlq   KEYS[3] stats   KEYS[4] events
  ARGV[1] job id   ARGV[2] events maxlen

  Returns C.DONE when deleted
  Errors  C.NOT_FOUND no such job
          {C.WRONG_STATUS, status} the job is not dead
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'dlq_entry')
if not f[1] then return C.NOT_FOUND end
if f[1] ~= 'dead' then return {C.WRONG_STATUS, f[1]} end

if f[2] then redis.call('XDEL', KEYS[2], f[2]) end
redis.call('DEL', KEYS[1])
redis.call('HINCRBY', KEYS[3], 'jobs:dead', -1)
emit(KEYS[4], ARGV[2], ARGV[1], 'purged', now_ms())
return C.DONE
