#!lua flags=allow-oom
--[[
  start: mark delivered stream entries as running under this consumer (a new attempt).

  Called right after XREADGROUP or XAUTOCLAIM hands the entries to this consumer. An entry whose
  job is gone, finished, canceled or re-enqueued under a newer entry is acknowledged. A pending
  job with no entry recorded is one that read.lua dispatched from its tenant's lane without
  writing to its hash (adopted): this entry is its own (or its run's: a shared entry, which is
  never acknowledged here, its consumer acks it once none of its jobs runs there), and a capped
  tenant's job holds a slot in its tenant's running set, both recorded here when it starts (or
  the slot given back when it does not). A job delivered more than max_deliveries times without
  finishing is dead-lettered as `poison`.

  A job of a task type this consumer does not serve gets a new entry at the end of its stream
  for a capable consumer, with nothing counted (HANDED_BACK). While the queue is paused, jobs
  are held (in the queue's held list, acknowledged) until resume_queue puts them back (HELD).
  A job with a partition key starts only at the head of its key's line; until then it is parked
  (PARKED), and goes back to the stream when the job ahead of it finishes.

  Rate limits (per task type): each limit keeps the next free start slot (GCRA, no burst). A job
  whose slot is not free now is given the next one: it goes to the delayed set until then, with
  the slot reserved on it, so waiting jobs never poll and never lose their turn.

  KEYS[1..4] the queue's job streams, critical to low   KEYS[5] dlq   KEYS[6] stats
  KEYS[7] events   KEYS[8] dependency outbox   KEYS[8+i] hash of job i   KEYS[9+n] delayed (zset)
  KEYS[10+n] the queue's lanes (zset)   KEYS[11+n] its pause flag   KEYS[12+n] its held list
  KEYS[12+n+j] slot key of rate limit j
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] max deliveries   ARGV[4] events maxlen
  ARGV[5] n
  ARGV[6 + 3(i-1) ..] entry i: stream level (1-4; negated for a shared entry, one naming a run of
    jobs: it is never acknowledged here, its worker acks it once none of its jobs runs there),
    stream entry id, job id
  ARGV[6 + 3n] L, the number of rate limits, then per limit j: task type, interval between starts
    in ms
  ARGV[7 + 3n + 2L] T, the number of task types this consumer serves (0: every type), then
    their names

  Returns one reply per entry:
    a string for a job STARTED: attempt, failures, max_retries, task_type, timeout_s,
      depends_on, trace_id, wait_ms (since it became ready, '' for a redelivery) and payload,
      joined by US (\x1f, which none of the others can hold; the payload, last, may)
    {C.SKIPPED}       nothing to run (the entry was acknowledged)
    {C.RATE_LIMITED}  scheduled for its reserved start slot
    {C.POISONED}      dead-lettered as poison
    {C.HANDED_BACK}   not a task type this consumer serves: on the stream again
    {C.HELD}          the queue is paused
    {C.PARKED}        its partition key's line has others ahead of it (see _lib.lua)
]]
local group, consumer = ARGV[1], ARGV[2]
local US = '\31'  -- the unit separator between a started job's fields
local max_deliveries = tonumber(ARGV[3])
local n = tonumber(ARGV[5])
local now = now_ms()
local delta = {}
local out = {}
local finished = {}
local started = {}
local freed = false
local bells = {}  -- bell entries (no job id), taken by a blocking read
local streams = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local dlq, stats, events, outbox = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local delayed = KEYS[9 + n]
local limits = {}
local L = tonumber(ARGV[6 + 3 * n])
for j = 1, L do
  limits[ARGV[5 + 3 * n + 2 * j]] = {KEYS[12 + n + j], tonumber(ARGV[6 + 3 * n + 2 * j])}
end
local lanes, held = KEYS[10 + n], KEYS[12 + n]
local paused = redis.call('EXISTS', KEYS[11 + n]) == 1
local served = nil  -- task type -> true, or nil: every type
local T = tonumber(ARGV[7 + 3 * n + 2 * L])
if T > 0 then
  served = {}
  for t = 1, T do served[ARGV[7 + 3 * n + 2 * L + t]] = true end
end

-- The due time of the next free slot of a limit, or nil when the job may start now.
local function rate_slot(limit, reserved)
  if reserved and reserved ~= '' and tonumber(reserved) <= now then return nil end
  local free = math.max(tonumber(redis.call('GET', limit[1]) or '0'), now)
  redis.call('SET', limit[1], free + limit[2], 'PX', free + limit[2] - now + 1000)
  if free <= now then return nil end
  return free
end

-- The running set of the tenant whose lane a job came from (its slot, which read.lua took).
local function slot_of(id)
  return keyname.running(lanes, tenant_of(id))
end

-- The slot an adopted job holds, or nil. read.lua takes one only for a capped tenant's job, so
-- a tenant with no running set took none (one EXISTS per tenant per call). A job dispatched
-- before its tenant got a cap is then taken for a slot holder: giving back a slot it does not
-- hold removes nothing.
local sets = {}  -- running set -> whether it exists
local function held_slot(id)
  local set = slot_of(id)
  if sets[set] == nil then sets[set] = redis.call('EXISTS', set) == 1 end
  return sets[set] and set or nil
end

-- A job that does not start now gives back its tenant's slot, if it held one (an adopted one
-- holds one its hash does not name yet).
local function give_back(key, id, adopted)
  if adopted then
    if redis.call('SREM', slot_of(id), id) == 1 then freed = true end
  elseif free_slot(key, id, redis.call('HGET', key, 'lane_slot')) then
    freed = true
  end
end

local running = running_field(streams[3])  -- the queue's running jobs

-- A job leaving `status` in the counters (the queue's running jobs too).
local function uncount(status)
  bump(delta, 'jobs:' .. status, -1)
  if status == 'running' then bump(delta, running, -1) end
end

-- A job read again after its owner died (status running) that does not start now is pending
-- again in the counters.
local function back_to_pending(status)
  if status == 'running' then
    uncount(status)
    bump(delta, 'jobs:pending', 1)
  end
end

for i = 1, n do
  local o = 5 + 3 * (i - 1)
  local level, entry, id = tonumber(ARGV[o + 1]), ARGV[o + 2], ARGV[o + 3]
  local shared = level < 0  -- its entry names other jobs too: its worker acks it
  if shared then level = -level end
  local key = KEYS[8 + i]
  local f = redis.call('HMGET', key, 'status', 'entry', 'deliveries', 'attempt', 'failures',
    'max_retries', 'task_type', 'payload', 'depends_on', 'timeout_s', 'history', 'rate_slot',
    'pk_line', 'created_at', 'ready_at', 'trace_id')
  local status = f[1]
  -- Adopted: a job read.lua dispatched from its lane without recording its entry and slot (the
  -- only pending job with no entry that a stream holds: a held or parked one's was acked).
  local adopted = status == 'pending' and (f[2] or '') == ''
  local live = (status == 'pending' or status == 'running') and (f[2] == entry or adopted)
  local unserved = live and served and not served[f[7]]
  local waits_turn = live and not paused and not unserved and not heads_line(f[13], id)
  local limit = live and not paused and not unserved and not waits_turn and limits[f[7]]
  local slot = limit and rate_slot(limit, f[12])
  if not live then
    if id == '' then
      add_entry(bells, level, entry)
    elseif (f[2] or '') == '' then
      give_back(key, id, true)  -- canceled or deleted since read.lua dispatched it
    end
    if not shared then add_entry(finished, level, entry) end
    out[i] = {C.SKIPPED}
  elseif paused then
    redis.call('HSET', key, 'status', 'pending', 'entry', '')
    redis.call('RPUSH', held, id)
    give_back(key, id, adopted)
    if not shared then add_entry(finished, level, entry) end
    back_to_pending(status)
    out[i] = {C.HELD}
  elseif unserved then
    local again = redis.call('XADD', streams[level], '*', 'id', id)
    redis.call('HSET', key, 'status', 'pending', 'entry', again)
    local held = adopted and held_slot(id)
    if held then redis.call('HSET', key, 'lane_slot', held) end  -- keeps its slot
    if not shared then add_entry(finished, level, entry) end
    back_to_pending(status)
    out[i] = {C.HANDED_BACK}
  elseif waits_turn then
    park(key, streams[level], redis.call('HEXISTS', key, 'lane') == 1 and lanes or nil)
    if status == 'running' then redis.call('HSET', key, 'status', 'pending') end
    back_to_pending(status)
    give_back(key, id, adopted)
    if not shared then add_entry(finished, level, entry) end
    out[i] = {C.PARKED}
  elseif slot then
    redis.call('HSET', key, 'status', 'scheduled', 'due_at', slot, 'rate_slot', slot, 'entry', '',
      'history', appended(written_out(f[11], key), 'scheduled', now, consumer, f[4] or '0',
        'rate_limited'))
    redis.call('ZADD', delayed, slot, id)
    give_back(key, id, adopted)
    if not shared then add_entry(finished, level, entry) end
    uncount(status)
    bump(delta, 'jobs:scheduled', 1)
    out[i] = {C.RATE_LIMITED}
  else
    -- No `deliveries` field: none was ever reset (promote_due, retry_dead write 0), so every
    -- start so far was a delivery without an outcome: as many as its attempts.
    local deliveries = tonumber(f[3] or f[4] or '0') + 1
    if deliveries > max_deliveries then
      local dependents = redis.call('HGET', key, 'dependents')
      dead_letter(key, dlq, id, f[7], 'poison', f[4] or '0', f[5] or '0', now,
        appended(written_out(f[11], key), 'dead', now, consumer, f[4] or '0', 'poison'))
      redis.call('HSET', key, 'deliveries', deliveries)
      give_back(key, id, adopted)
      if not shared then add_entry(finished, level, entry) end
      uncount(status)
      leave_line(key, id, f[13])
      bump(delta, 'jobs:dead', 1)
      bump(delta, 'dead_total', 1)
      emit(events, ARGV[4], id, 'dead', now, 'reason', 'poison', 'attempt', f[4] or '0')
      if dependents then notify_dependents(outbox, id, now) end
      out[i] = {C.POISONED}
    else
      local attempt = tonumber(f[4] or '0') + 1
      if status == 'running' or (f[11] and f[11] ~= '') then  -- a redelivery, or a history
        local reason = status == 'running' and 'reclaimed' or ''
        redis.call('HSET', key, 'history',
          appended(written_out(f[11], key), 'running', now, consumer, attempt, reason))
      end
      -- deliveries, while equal to attempts, is left implicit (~14 bytes a job, one field less);
      -- an adopted job's entry and slot are recorded now. The variants are whole calls: one
      -- built from a table costs ~2,000 instructions more.
      local at = text(now)
      local held = adopted and held_slot(id)
      if held and f[3] then
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'deliveries', text(deliveries), 'started_at', at, 'entry', entry, 'lane_slot', held)
      elseif held then
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'started_at', at, 'entry', entry, 'lane_slot', held)
      elseif adopted and f[3] then
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'deliveries', text(deliveries), 'started_at', at, 'entry', entry)
      elseif adopted then
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'started_at', at, 'entry', entry)
      elseif f[3] then
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'deliveries', text(deliveries), 'started_at', at)
      else
        redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', text(attempt),
          'started_at', at)
      end
      if f[12] and f[12] ~= '' then redis.call('HDEL', key, 'rate_slot') end
      local wait = ''
      if status == 'pending' then
        bump(delta, 'jobs:pending', -1)
        bump(delta, 'jobs:running', 1)
        bump(delta, running, 1)
        wait = now - tonumber(f[15] or f[14] or now)
        observe(delta, 'wait', wait)
      end
      bump(delta, 'started_total', 1)
      started[#started + 1] = id
      -- One string, not a table of ten: a table's reply costs Redis about 4 % of a job's CPU.
      out[i] = text(attempt) .. US .. (f[5] or '0') .. US .. (f[6] or '0') .. US ..
        (f[7] or '') .. US .. (f[10] or '') .. US .. (f[9] or '') .. US .. (f[16] or '') .. US ..
        wait .. US .. (f[8] or '')
    end
  end
end

ack_by_level(streams, group, finished)
if next(bells) then take_bell(lanes, bells) end
if freed and not paused then wake_lanes(lanes, streams[3]) end
if #started > 0 then
  emit_ids(events, ARGV[4], started, 'running', now, 'worker', consumer)
end
flush(stats, delta)
return out
