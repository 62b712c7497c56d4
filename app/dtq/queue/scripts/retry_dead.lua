#!lua
--[[
  retry_dead: send a dead job from the dead-letter queue back to its queue's stream. With reset, its
  failures start over (fresh retries); without, it gets one more attempt. The attempt counter
  keeps counting either way (it fences owners); deliveries start over.

  KEYS[1] job hash   KEYS[2] dlq   KEYS[3] stats   KEYS[4] events
  ARGV[1] job id   ARGV[2] events maxlen   ARGV[3] reset failures: '1' or '0'
  ARGV[4] the shard's key base   ARGV[5] the stream name

  Returns C.DONE when the job is pending again
  Errors  C.NOT_FOUND no such job
          {C.WRONG_STATUS, status} the job is not dead
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'dlq_entry', 'history', 'priority', 'lane',
  'queue', 'pk_line')
if not f[1] then return C.NOT_FOUND end
if f[1] ~= 'dead' then return {C.WRONG_STATUS, f[1]} end

local now = now_ms()
if f[2] then redis.call('XDEL', KEYS[2], f[2]) end
local entry = ''
local q = queue_keys(ARGV[4], ARGV[5], f[6])
if f[5] then
  lane_push(q.lanes, f[5], level_of(f[4]), ARGV[1], {})
  ring(q.lanes, q.streams[3])
else
  entry = redis.call('XADD', q.streams[level_of(f[4])], '*', 'id', ARGV[1])
end
if f[7] then redis.call('RPUSH', f[7], ARGV[1]) end  -- back in its key's line, at the end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'failures', 0) end
redis.call('HSET', KEYS[1], 'status', 'pending', 'entry', entry, 'deliveries', 0, 'ready_at', now,
  'history', appended(f[3], 'pending', now, '', '', 'dlq_retry'))
redis.call('HDEL', KEYS[1], 'dlq_entry', 'dead_reason', 'finished_at', 'due_at')
redis.call('HINCRBY', KEYS[3], 'jobs:dead', -1)
redis.call('HINCRBY', KEYS[3], 'jobs:pending', 1)
emit(KEYS[4], ARGV[2], ARGV[1], 'pending', now, 'reason', 'dlq_retry')
return C.DONE
