--[[
  enqueue: store jobs and append them to the job stream (or, when they have a due time in the
  future, to the delayed set), all or none. A job with an idempotency key whose key was used
  before with the same body is not created again: its original id is returned.

  KEYS[1] job stream   KEYS[2] job index (zset)   KEYS[3] stats   KEYS[4] events
  KEYS[5] delayed (zset)   KEYS[5+i] hash of job i   KEYS[5+n+j] idempotency key of the j-th job
    that has one
  ARGV[1] events maxlen   ARGV[2] n, the number of jobs   ARGV[3] idempotency ttl (s)
  ARGV[4 + 5(i-1) ..] job i: id, task_type, payload (JSON), max_retries, options: '' or a JSON
    object of the options given: partition_key, trace_id, delay_ms, run_at_ms, timeout_s and,
    with an idempotency key, fingerprint (of the body)

  Returns {created_at_ms, r_1, ..., r_n}: r_i is 0 for a job pending now, the due time (Redis
    clock) for a scheduled one, or the original job's id (a string) for a replayed submission
  Errors  {-4}: a job id exists already (DuplicateJobError); nothing is written
          {-6, i}: job i reuses an idempotency key with another body (IdempotencyConflictError)
]]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local WIDTH = 5
local scheduled_record = appended(nil, 'scheduled', now, '', 0, 'delayed')
local out = {now}
local opts = {}
for i = 1, n do
  local raw = ARGV[3 + i * WIDTH]
  opts[i] = raw ~= '' and cjson.decode(raw) or false
end

-- Idempotency keys first: a replay returns the original id, a conflict writes nothing.
local idem_key = {}
local next_key = 5 + n + 1
for i = 1, n do
  local fingerprint = opts[i] and opts[i].fingerprint
  if fingerprint then
    idem_key[i] = KEYS[next_key]
    next_key = next_key + 1
    local seen = redis.call('GET', idem_key[i])
    if seen then
      local sep = string.find(seen, ':', 1, true)
      if string.sub(seen, sep + 1) ~= fingerprint then return {-6, i} end
      out[i + 1] = string.sub(seen, 1, sep - 1)
      idem_key[i] = nil
    end
  end
end

-- Index every new id at once; ZADD NX adds fewer than asked only if an id exists already.
-- The scores are unique and increasing: newest-first pagination needs no tie-breaking.
local seq = math.max(now_us, tonumber(redis.call('HGET', KEYS[3], 'index_seq') or '0') + 1)
local members, fresh = {}, 0
for i = 1, n do
  if out[i + 1] == nil then
    members[#members + 1] = seq + fresh
    members[#members + 1] = ARGV[4 + (i - 1) * WIDTH]
    fresh = fresh + 1
  end
end
local added = 0
for i = 1, #members, 1000 do
  added = added + redis.call('ZADD', KEYS[2], 'NX', unpack(members, i, math.min(i + 999, #members)))
end
if added < fresh then
  -- Undo: remove exactly the members this call added (they carry this call's scores).
  redis.call('ZREMRANGEBYSCORE', KEYS[2], seq, seq + fresh - 1)
  return {-4}
end

local pending, scheduled = {}, {}
for i = 1, n do
  if out[i + 1] == nil then
    local o = 3 + (i - 1) * WIDTH
    local id = ARGV[o + 1]
    local opt = opts[i]
    local due = 0
    local fields = {'id', id, 'task_type', ARGV[o + 2], 'payload', ARGV[o + 3],
      'attempt', 0, 'failures', 0, 'deliveries', 0, 'max_retries', ARGV[o + 4], 'created_at', now}
    if opt then
      if opt.delay_ms then due = now + opt.delay_ms elseif opt.run_at_ms then due = opt.run_at_ms end
      for _, name in ipairs({'partition_key', 'trace_id', 'timeout_s'}) do
        if opt[name] then
          fields[#fields + 1] = name
          fields[#fields + 1] = opt[name]
        end
      end
    end
    if due > now then
      for _, v in ipairs({'status', 'scheduled', 'due_at', due, 'history', scheduled_record}) do
        fields[#fields + 1] = v
      end
      redis.call('HSET', KEYS[5 + i], unpack(fields))
      redis.call('ZADD', KEYS[5], due, id)
      scheduled[#scheduled + 1] = id
      out[i + 1] = due
    else
      local entry = redis.call('XADD', KEYS[1], '*', 'id', id)
      for _, v in ipairs({'status', 'pending', 'entry', entry}) do
        fields[#fields + 1] = v
      end
      redis.call('HSET', KEYS[5 + i], unpack(fields))
      pending[#pending + 1] = id
      out[i + 1] = 0
    end
    if idem_key[i] then
      redis.call('SET', idem_key[i], id .. ':' .. opt.fingerprint, 'EX', ARGV[3])
    end
  end
end

if #pending > 0 then emit(KEYS[4], ARGV[1], table.concat(pending, ','), 'pending', now) end
if #scheduled > 0 then emit(KEYS[4], ARGV[1], table.concat(scheduled, ','), 'scheduled', now) end
if fresh > 0 then
  redis.call('HSET', KEYS[3], 'index_seq', seq + fresh - 1)
  redis.call('HINCRBY', KEYS[3], 'created_total', fresh)
  redis.call('HINCRBY', KEYS[3], 'jobs:pending', #pending)
  redis.call('HINCRBY', KEYS[3], 'jobs:scheduled', #scheduled)
end
return out
