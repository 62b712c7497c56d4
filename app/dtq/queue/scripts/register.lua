#!lua flags=allow-oom
--[[
  register: record the queues a worker listens to and its task types' own queues. Allowed when
  Redis is full (a few bytes), so a worker can start and drain it.

  KEYS[1] queue names (set)   KEYS[2] task types (hash: task type -> queue)
  ARGV[1] number of named queues   ARGV[2 ..] the named queues, then task type, queue pairs

  Returns C.DONE
]]
local named = tonumber(ARGV[1])
if named > 0 then redis.call('SADD', KEYS[1], unpack(ARGV, 2, 1 + named)) end
if #ARGV > 1 + named then redis.call('HSET', KEYS[2], unpack(ARGV, 2 + named)) end
return C.DONE
