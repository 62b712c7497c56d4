--[[
  enqueue: store jobs and append them to the job stream (or, when they have a due time in the
  future, to the delayed set), all or none.

  KEYS[1] job stream   KEYS[2] job index (zset)   KEYS[3] stats   KEYS[4] events
  KEYS[5] delayed (zset)   KEYS[5+i] hash of job i
  ARGV[1] events maxlen
  ARGV[2] n, the number of jobs
  ARGV[3 + 9(i-1) ..] job i: id, task_type, payload (JSON), max_retries, partition_key, trace_id,
    delay in ms (-1: none), run_at in ms since the epoch (-1: none), timeout in s ('': none)

  Returns {created_at_ms, due_1, ..., due_n}: due_i is 0 for a job that is pending now, else the
    time (Redis clock) it is scheduled for
  Errors  {-4}: a job id exists already (DuplicateJobError); nothing is written
]]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- A unique, increasing index score: newest-first pagination needs no tie-breaking.
local seq = math.max(now_us, tonumber(redis.call('HGET', KEYS[3], 'index_seq') or '0') + 1)
local WIDTH = 9
local STATUS, ENTRY, HISTORY = 22, 24, 28  -- positions of the values in `fields` below
local pending_record = appended(nil, 'pending', now, '', 0, '')

-- Index every id at once; ZADD NX adds fewer than n only if an id exists already.
local members, ids = {}, {}
for i = 1, n do
  local id = ARGV[3 + (i - 1) * WIDTH]
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

local out = {now}
local pending, scheduled = {}, {}
for i = 1, n do
  local o = 2 + (i - 1) * WIDTH
  local id = ids[i]
  local delay, run_at = tonumber(ARGV[o + 7]), tonumber(ARGV[o + 8])
  local due = 0
  if delay >= 0 then due = now + delay elseif run_at >= 0 then due = run_at end
  local fields = {'id', id, 'task_type', ARGV[o + 2], 'payload', ARGV[o + 3],
    'attempt', 0, 'failures', 0, 'deliveries', 0, 'max_retries', ARGV[o + 4],
    'partition_key', ARGV[o + 5], 'trace_id', ARGV[o + 6], 'created_at', now,
    'status', 'pending', 'entry', '', 'timeout_s', ARGV[o + 9],
    'history', pending_record}
  if due > now then
    fields[STATUS] = 'scheduled'
    fields[HISTORY] = appended(nil, 'scheduled', now, '', 0, 'delayed')
    fields[#fields + 1] = 'due_at'
    fields[#fields + 1] = due
    redis.call('HSET', KEYS[5 + i], unpack(fields))
    redis.call('ZADD', KEYS[5], due, id)
    scheduled[#scheduled + 1] = id
    out[i + 1] = due
  else
    fields[ENTRY] = redis.call('XADD', KEYS[1], '*', 'id', id)
    redis.call('HSET', KEYS[5 + i], unpack(fields))
    pending[#pending + 1] = id
    out[i + 1] = 0
  end
end

if #pending > 0 then emit(KEYS[4], ARGV[1], table.concat(pending, ','), 'pending', now) end
if #scheduled > 0 then emit(KEYS[4], ARGV[1], table.concat(scheduled, ','), 'scheduled', now) end
redis.call('HSET', KEYS[3], 'index_seq', seq + n - 1)
redis.call('HINCRBY', KEYS[3], 'created_total', n)
redis.call('HINCRBY', KEYS[3], 'jobs:pending', #pending)
redis.call('HINCRBY', KEYS[3], 'jobs:scheduled', #scheduled)
return out
