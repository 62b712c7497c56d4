--[[
  enqueue: store jobs and append them to the job stream, all or none.

  KEYS[1] job stream   KEYS[2] job index (zset)   KEYS[3] stats   KEYS[4] events
  KEYS[4+i] hash of job i
  ARGV[1] events maxlen
  ARGV[2] n, the number of jobs
  ARGV[3 + 6(i-1) ..] job i: id, task_type, payload (JSON), max_retries, partition_key, trace_id

  Returns {created_at_ms}
  Errors  {-4}: a job id exists already (DuplicateJobError); nothing is written
]]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- A unique, increasing index score: newest-first pagination needs no tie-breaking.
local seq = math.max(now_us, tonumber(redis.call('HGET', KEYS[3], 'index_seq') or '0') + 1)

-- Index every id at once; ZADD NX adds fewer than n only if an id exists already.
local members, ids = {}, {}
for i = 1, n do
  local id = ARGV[3 + (i - 1) * 6]
  ids[i] = id
  members[2 * i - 1] = seq + i - 1
  members[2 * i] = id
end
local added = 0
for i = 1, 2 * n, 1000 do
  added = added + redis.call('ZADD', KEYS[2], 'NX', unpack(members, i, math.min(i + 999, 2 * n)))
end
if added < n then
  -- Undo: remove exactly the members this call added (they carry this call's scores).
  redis.call('ZREMRANGEBYSCORE', KEYS[2], seq, seq + n - 1)
  return {-4}
end

for i = 1, n do
  local o = 2 + (i - 1) * 6
  local entry = redis.call('XADD', KEYS[1], '*', 'id', ids[i])
  redis.call('HSET', KEYS[4 + i], 'id', ids[i], 'task_type', ARGV[o + 2], 'payload', ARGV[o + 3],
    'status', 'pending', 'attempt', 0, 'failures', 0, 'deliveries', 0,
    'max_retries', ARGV[o + 4], 'partition_key', ARGV[o + 5], 'trace_id', ARGV[o + 6],
    'created_at', now, 'entry', entry)
end

emit(KEYS[4], ARGV[1], table.concat(ids, ','), 'pending', now)
redis.call('HSET', KEYS[3], 'index_seq', seq + n - 1)
redis.call('HINCRBY', KEYS[3], 'created_total', n)
redis.call('HINCRBY', KEYS[3], 'jobs:pending', n)
return {now}
