--[[
  complete: record successful attempts, ack and delete their stream entries.

  Fenced: each job must still be running under the given consumer and attempt; a stale owner
  (a zombie whose job was reclaimed) is refused and changes nothing.

  KEYS[1] job stream   KEYS[2] stats   KEYS[3] events
  KEYS[3+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] result ttl (s)   ARGV[4] events maxlen
  ARGV[5] n
  ARGV[6 + 4(i-1) ..] job i: job id, stream entry id, attempt, result (JSON)

  Returns one code per job: 1 completed, -3 stale owner (StaleOwnerError)
]]
local group, consumer, ttl = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[5])
local now = now_ms()
local out = {}
local done = 0
local finished = {}
local ids = {}

for i = 1, n do
  local o = 5 + (i - 1) * 4
  local id, entry, attempt = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
  local key = KEYS[3 + i]
  local f = redis.call('HMGET', key, 'status', 'worker', 'attempt', 'entry', 'history')
  if f[1] ~= 'running' or f[2] ~= consumer or f[3] ~= attempt or f[4] ~= entry then
    out[i] = -3
  else
    if f[5] and f[5] ~= '' then
      redis.call('HSET', key, 'history', appended(f[5], 'succeeded', now, consumer, attempt, ''))
    end
    redis.call('HSET', key, 'status', 'succeeded', 'result', ARGV[o + 4], 'finished_at', now,
      'entry', '')
    redis.call('EXPIRE', key, ttl)
    finished[#finished + 1] = entry
    done = done + 1
    ids[done] = id
    out[i] = 1
  end
end

if done > 0 then
  ack_and_delete(KEYS[1], group, finished)
  emit(KEYS[3], ARGV[4], table.concat(ids, ','), 'succeeded', now, 'worker', consumer)
  redis.call('HINCRBY', KEYS[2], 'jobs:running', -done)
  redis.call('HINCRBY', KEYS[2], 'jobs:succeeded', done)
  redis.call('HINCRBY', KEYS[2], 'completed_total', done)
end
return out
