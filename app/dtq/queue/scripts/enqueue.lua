#!lua
--[[
  enqueue: store jobs and append them to the stream of their queue and priority level (or, when
  they have a due time in the future, to the delayed set), all or none. A job with an
  idempotency key whose key was used before with the same body is not created again: its
  original id is returned.

  Queues: a job goes to the queue its options name, else to the queue its task type was
  registered on by a worker (the tasks hash), else to `default`. Task types no worker has ever
  served are reported back (the API warns; workers may come later).

  Per-key ordering: a job with a partition_key joins the end of its key's line (see _lib.lua).

  Dependencies: a job whose parents have not all succeeded is stored as `waiting` and added to
  each unfinished parent's children set; release.lua lets it go once they have. A job with a
  parent that ended dead or canceled is stored canceled (`dependency_failed`). A parent must
  exist already, belong to the same tenant, or come earlier in the same call.

  KEYS[1] the shard's job index (the default tenant's; dtq.queue.job_index)   KEYS[2] stats
  KEYS[3] events   KEYS[4] delayed (zset)   KEYS[5] tasks (hash)   KEYS[6] queues (set)
  KEYS[7] the directory of the tenant's own job index (its buckets, `<index>#<n>`, are reached
  from it)   KEYS[8] retention policies (hash)   KEYS[9] tombstones (zset)
  KEYS[9+i] hash of job i
  then one idempotency key for each job that has one, in job order
  then, for each job with parents (in job order), per parent: its hash, its children set
  ARGV[1] events maxlen   ARGV[2] n, the number of jobs   ARGV[3] idempotency ttl (s)
  ARGV[4] retention (_lib.lua's retention_config), for jobs canceled at birth: kept by their
    queues' retention, as any canceled job
  ARGV[5] the tenant the jobs belong to (stored on each job unless it is 'default')
  ARGV[6] '1': pending jobs wait in the tenant's lane (fair dispatch, see _lib.lua), '' : they
    go straight to the streams (a single-tenant deployment)
  ARGV[7] the shard's key base   ARGV[8] the stream name (for keyname.queue)
  ARGV[9] '1': each job on its own (see below), '': all or none
  ARGV[10 + 5(i-1) ..] job i: id, task_type, payload (JSON), max_retries, options: '' or a JSON
    object of the options given: queue, priority, depends_on (array), partition_key, trace_id,
    delay_ms, run_at_ms, timeout_s and, with an idempotency key, fingerprint (of the body)
  Admission (optional): when ARGV[11 + 5n] is given, the jobs first take that many submissions
    from the tenant's rate limit (_lib.lua's take_tokens), ARGV[12 + 5n] the rate per second
    and ARGV[13 + 5n] the burst, the bucket being the last key; refused, nothing is stored.

  Each on its own (ARGV[9] '1'): the jobs are independent submissions (single POST /jobs made
  at once, sent in one call): each is admitted (taking the cost for itself), checked and stored
  as if it had been sent alone, after the ones before it. A job refused gets its error code in
  its place of the reply; the others are stored. The caller sends no two jobs with the same id
  or idempotency key in one call (the second would depend on how the first fared).

  Returns {created_at_ms, unknown, admission, code_1, value_1, queue_1, ..., code_n, value_n,
    queue_n}: admission is take_tokens's answer (empty without admission; each on its own:
    a list of every job's answer);
    unknown lists the task types no worker has served; code_i is C.PENDING, C.SCHEDULED
    (value: the due time, Redis clock), C.WAITING, C.CANCELED (at birth: a parent had failed)
    or C.REPLAYED (value: the original job's id); value_i is 0 otherwise; queue_i is the job's
    queue ('' for default)
  Errors  {C.OVER_RATE, admission}: the rate limit refused the jobs; nothing is written
          {C.DUPLICATE}: a job id exists already (DuplicateJobError); nothing is written
          {C.IDEMPOTENCY_CONFLICT, i}: job i reuses an idempotency key with another body
          {C.UNKNOWN_PARENT, i, parent}: job i names a parent that does not exist or belongs
            to another tenant (the two look the same)
  Each on its own, these are job i's code_i instead (C.OVER_RATE: its answer is in admission;
  C.UNKNOWN_PARENT: value_i is the parent).
]]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local WIDTH, J = 5, 9  -- job i's fields start after ARGV[J + WIDTH * (i - 1)]
local each = ARGV[9] == '1'
local tenant = ARGV[5]
local lane = ARGV[6] == '1' and tenant or nil
local base, stream_name = ARGV[7], ARGV[8]
local active = {}  -- per queue: tenants known to be in its lanes
local index, stats, events, delayed, tasks, queues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5],
  KEYS[6]
local TENANT_INDEX, RETENTION, GONE = 7, 8, 9
local FIRST_JOB_KEY = 9
local scheduled_record = appended(nil, 'scheduled', now, '', 0, 'delayed')
local out = {now}  -- then the code of each job (C.PENDING ...)
local value = {}  -- per job: its due time (scheduled), original id (replayed) or parent
local admission = {}
local cost = ARGV[J + WIDTH * n + 1]
if cost then
  local rate, burst = tonumber(ARGV[J + WIDTH * n + 2]), tonumber(ARGV[J + WIDTH * n + 3])
  if each then
    admission = take_tokens_each(KEYS[#KEYS], rate, burst, tonumber(cost), now, n)
    for i = 1, n do
      if admission[i][1] == 0 then out[i + 1] = C.OVER_RATE end
    end
  else
    admission = take_tokens(KEYS[#KEYS], rate, burst, tonumber(cost), now)
    if admission[1] == 0 then return {C.OVER_RATE, admission} end
  end
end
-- A job refused (each on its own): its code in out, as its answer.
local function refuse(i, code, v)
  if not each then return true end
  out[i + 1] = code
  value[i] = v
end
local opts = {}
for i = 1, n do
  local raw = ARGV[J + i * WIDTH]
  opts[i] = raw ~= '' and cjson.decode(raw) or false
end

-- Idempotency keys first: a replay returns the original id, a conflict writes nothing.
local idem_key = {}
local next_key = FIRST_JOB_KEY + n + 1
for i = 1, n do
  local fingerprint = opts[i] and opts[i].fingerprint
  if fingerprint then
    idem_key[i] = KEYS[next_key]
    next_key = next_key + 1
    local seen = out[i + 1] == nil and redis.call('GET', idem_key[i])
    if seen then
      local sep = string.find(seen, ':', 1, true)
      idem_key[i] = nil
      if string.sub(seen, sep + 1) ~= fingerprint then
        if refuse(i, C.IDEMPOTENCY_CONFLICT) then return {C.IDEMPOTENCY_CONFLICT, i} end
      else
        out[i + 1] = C.REPLAYED
        value[i] = string.sub(seen, 1, sep - 1)
      end
    end
  end
end

-- Parents: each must exist, or be a job created earlier in this call.
local parents_at = {}
local earlier = {}
local any_parents = false
for i = 1, n do
  if opts[i] and opts[i].depends_on then any_parents = true end
end
for i = 1, any_parents and n or 0 do
  local deps = opts[i] and opts[i].depends_on
  if deps then
    parents_at[i] = next_key
    if out[i + 1] == nil then
      for j, parent in ipairs(deps) do
        if not earlier[parent] then
          local p = redis.call('HMGET', KEYS[next_key + 2 * (j - 1)], 'status', 'tenant')
          if not p[1] or (p[2] or 'default') ~= tenant then
            if refuse(i, C.UNKNOWN_PARENT, parent) then return {C.UNKNOWN_PARENT, i, parent} end
            break
          end
        end
      end
    end
    next_key = next_key + 2 * #deps
  end
  if out[i + 1] == nil then earlier[ARGV[J + 1 + (i - 1) * WIDTH]] = true end
end

-- Duplicates: an id whose job exists, or that came earlier in this call (one EXISTS over every
-- new job's hash; each on its own, the jobs that meet one are refused, the others stored).
local seen, fresh_keys = {}, {}
for i = 1, n do
  local id = ARGV[J + 1 + (i - 1) * WIDTH]
  if out[i + 1] == nil then
    if seen[id] then
      if refuse(i, C.DUPLICATE) then return {C.DUPLICATE} end
    else
      seen[id] = true
      fresh_keys[#fresh_keys + 1] = KEYS[FIRST_JOB_KEY + i]
    end
  end
end
local existing = 0
for i = 1, #fresh_keys, 1000 do
  local last = math.min(i + 999, #fresh_keys)
  existing = existing + redis.call('EXISTS', unpack(fresh_keys, i, last))
end
if existing > 0 then
  if not each then return {C.DUPLICATE} end
  for i = 1, n do
    if out[i + 1] == nil and redis.call('EXISTS', KEYS[FIRST_JOB_KEY + i]) == 1 then
      refuse(i, C.DUPLICATE)
    end
  end
end

-- Index every new id, in its tenant's index only (a named tenant's stored ids carry its name):
-- appended to the index's newest bucket while it has room, then to new ones (see
-- dtq.queue.job_index; each job's hash records its bucket as `ix`). The scores are unique and
-- increasing over the shard: newest-first pagination needs no tie-breaking.
local dir = KEYS[TENANT_INDEX]
local own = string.sub(dir, 1, -2)  -- the index's name: its directory's, without the '#'
local seq = math.max(now_us, tonumber(redis.call('HGET', stats, 'index_seq') or '0') + 1)
local fresh = 0
local bucket_of = {}  -- job i -> its bucket number (text)
do
  local newest = redis.call('ZRANGE', dir, -1, -1)[1]
  local b, room = tonumber(newest or '0'), 0
  if newest then room = INDEX_BUCKET - redis.call('ZCARD', keyname.index_bucket(own, b)) end
  local members = {}
  local function add()
    if #members > 0 then redis.call('ZADD', keyname.index_bucket(own, b), unpack(members)) end
    members = {}
  end
  for i = 1, n do
    if out[i + 1] == nil then
      if room <= 0 then
        add()
        b, room = b + 1, INDEX_BUCKET
        redis.call('ZADD', dir, seq + fresh, b)
      end
      -- negated: Redis inserts at a listpack's head at once, its tail after a scan; as text,
      -- which redis.call would otherwise make of a number with %.17g (~1,500 instructions)
      members[#members + 1] = string.format('%d', -(seq + fresh))
      members[#members + 1] = ARGV[J + 1 + (i - 1) * WIDTH]
      bucket_of[i] = text(b)
      fresh, room = fresh + 1, room - 1
    end
  end
  add()
end

-- How a job with parents starts: 'failed' (a parent is dead or canceled, named second), or
-- the number of parents still unfinished (each of which now lists the job as a child).
local function wait_on(i, id, deps)
  local first = parents_at[i]
  local unfinished = {}
  for j, parent in ipairs(deps) do
    local pkey = KEYS[first + 2 * (j - 1)]
    local status = redis.call('HGET', pkey, 'status')
    if status == 'dead' or status == 'canceled' then return 'failed', parent end
    if status ~= 'succeeded' then unfinished[#unfinished + 1] = j end
  end
  for _, j in ipairs(unfinished) do
    local pkey = KEYS[first + 2 * (j - 1)]
    redis.call('SADD', KEYS[first + 2 * (j - 1) + 1], id)
    redis.call('HSET', pkey, 'dependents', 1)
  end
  return #unfinished
end

-- A job's queue: named in its options, else its task type's (registered by workers).
local queue_of_task, unknown = {}, {}
local function queue_for(task_type, opt)
  local registered = queue_of_task[task_type]
  if registered == nil then
    registered = redis.call('HGET', tasks, task_type) or false
    queue_of_task[task_type] = registered
    if not registered then unknown[#unknown + 1] = task_type end
  end
  return (opt and opt.queue) or registered or 'default'
end
local queue_names = {}  -- of each job, '' for default
local used = {}  -- queue name -> true: named queues this call has added to the queues set
local rung = {}  -- queue name -> its keys: queues whose lanes got jobs (a bell each)
local lane_ids = {}  -- lane list -> the ids it gets, in job order (one RPUSH per 1,000)

local pending, scheduled, waiting, canceled = {}, {}, {}, {}
local canceled_by_queue = {}  -- queue ('' for default) -> ids canceled at birth
for i = 1, n do
  if out[i + 1] == nil then
    local o = J + (i - 1) * WIDTH
    local id = ARGV[o + 1]
    local key = KEYS[FIRST_JOB_KEY + i]
    local opt = opts[i]
    local queue = queue_for(ARGV[o + 2], opt)
    local q = queue_keys(base, stream_name, queue)
    local due = 0
    local level = 3
    local fields = {'task_type', ARGV[o + 2], 'payload', ARGV[o + 3],  -- the id is the key's
      'max_retries', ARGV[o + 4], 'created_at', text(now),  -- no attempt yet (absent: 0)
      'ix', bucket_of[i]}
    local left, failed_parent = 0, nil
    if tenant ~= 'default' then
      fields[#fields + 1] = 'tenant'
      fields[#fields + 1] = tenant
    end
    if lane then
      fields[#fields + 1] = 'lane'
      fields[#fields + 1] = lane
    end
    if queue ~= 'default' then
      fields[#fields + 1] = 'queue'
      fields[#fields + 1] = queue
      queue_names[i] = queue
      if not used[queue] then
        redis.call('SADD', queues, queue)
        used[queue] = true
      end
    end
    if opt then
      if opt.delay_ms then due = now + opt.delay_ms elseif opt.run_at_ms then due = opt.run_at_ms end
      for _, name in ipairs({'priority', 'partition_key', 'trace_id', 'timeout_s', 'keep'}) do
        if opt[name] then
          fields[#fields + 1] = name
          fields[#fields + 1] = opt[name]
        end
      end
      level = level_of(opt.priority)
      if opt.depends_on then
        fields[#fields + 1] = 'depends_on'
        fields[#fields + 1] = table.concat(opt.depends_on, ',')
        left, failed_parent = wait_on(i, id, opt.depends_on)
      end
    end
    local extra
    if left == 'failed' then
      extra = {'status', 'canceled', 'cancel_reason', 'dependency_failed',
        'failed_parent', failed_parent, 'finished_at', now,
        'history', appended(nil, 'canceled', now, '', 0, 'dependency_failed')}
      canceled[#canceled + 1] = id
      add_entry(canceled_by_queue, queue ~= 'default' and queue or '', id)
      out[i + 1] = C.CANCELED
    elseif left > 0 then
      extra = {'status', 'waiting', 'deps_left', left,
        'history', appended(nil, 'waiting', now, '', 0, 'dependencies')}
      if due > now then
        extra[#extra + 1] = 'due_at'
        extra[#extra + 1] = due
      end
      waiting[#waiting + 1] = id
      out[i + 1] = C.WAITING
    elseif due > now then
      extra = {'status', 'scheduled', 'due_at', due, 'history', scheduled_record}
      redis.call('ZADD', delayed, due, id)
      scheduled[#scheduled + 1] = id
      out[i + 1] = C.SCHEDULED
      value[i] = due
    elseif lane then
      active[queue] = active[queue] or {}
      lane_enter(q.lanes, lane, active[queue])
      add_entry(lane_ids, keyname.lane(q.lanes, lane, level), id)  -- pushed below, in order
      rung[queue] = q
      extra = {'status', 'pending'}
      pending[#pending + 1] = id
      out[i + 1] = C.PENDING
    else
      local entry = redis.call('XADD', q.streams[level], '*', 'id', id)
      extra = {'status', 'pending', 'entry', entry}
      pending[#pending + 1] = id
      out[i + 1] = C.PENDING
    end
    if opt and opt.partition_key and left ~= 'failed' then  -- joins its key's line
      local line = keyname.line(q.root, opt.partition_key)
      redis.call('RPUSH', line, id)
      fields[#fields + 1] = 'pk_line'
      fields[#fields + 1] = line
    end
    for _, v in ipairs(extra) do fields[#fields + 1] = v end
    redis.call('HSET', key, unpack(fields))
    if idem_key[i] then
      redis.call('SET', idem_key[i], id .. ':' .. opt.fingerprint, 'EX', ARGV[3])
    end
  end
end

for list, ids in pairs(lane_ids) do
  for i = 1, #ids, 1000 do redis.call('RPUSH', list, unpack(ids, i, math.min(i + 999, #ids))) end
end
if #pending > 0 then
  emit_ids(events, ARGV[1], pending, 'pending', now)
  for _, q in pairs(rung) do ring(q.lanes, q.streams[3]) end
end
if #scheduled > 0 then emit_ids(events, ARGV[1], scheduled, 'scheduled', now) end
if #waiting > 0 then emit_ids(events, ARGV[1], waiting, 'waiting', now) end
if #canceled > 0 then
  emit_ids(events, ARGV[1], canceled, 'canceled', now,
    'reason', 'dependency_failed')
  retain_canceled(canceled_by_queue, {}, retention_config(ARGV[4]), KEYS[RETENTION], index,
    KEYS[GONE], base, stream_name, now)
end
if fresh > 0 then
  redis.call('HSET', stats, 'index_seq', seq + fresh - 1)
  redis.call('HINCRBY', stats, 'created_total', fresh)
  redis.call('HINCRBY', stats, 'jobs:pending', #pending)
  redis.call('HINCRBY', stats, 'jobs:scheduled', #scheduled)
  if #waiting > 0 then redis.call('HINCRBY', stats, 'jobs:waiting', #waiting) end
  if #canceled > 0 then redis.call('HINCRBY', stats, 'jobs:canceled', #canceled) end
end
local reply = {now, unknown, admission}
for i = 1, n do
  reply[#reply + 1] = out[i + 1]
  reply[#reply + 1] = value[i] or 0
  reply[#reply + 1] = queue_names[i] or ''
end
return reply
