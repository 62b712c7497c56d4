--[[
  Prelude prepended to every DTQ script when it is loaded (not a transition by itself).
  Time always comes from the Redis server clock (invariant 5).

  Every script starts with its flags line, which the loader keeps first. `#!lua flags=allow-oom`
  marks the scripts that must run when Redis is full (maxmemory with noeviction) so that the
  jobs already stored can finish and free memory: settling, leases, heartbeats, reading and
  starting, retries coming due, cancels, purges and trims. The others are plain `#!lua`: when
  Redis is full they are refused whole, before any command runs (the API answers 507
  storage_full), never cut off halfway. key_lookup writes nothing (`no-writes`).
]]

-- The last key of every call is the shard's guard (keys.py's Keys.guard): a key that never
-- exists, declared for the server alone. During a key-by-key slot migration the server refuses a
-- call naming a key it lacks (TRYAGAIN), so no script runs while DTQ's keys are split over two
-- nodes, whatever keys it reaches without declaring them. Taken off here: each script's KEYS
-- are its own.
table.remove(KEYS)

-- Return codes: the same table as dtq/queue/scripts/codes.py (a test checks they agree).
-- Negative codes are errors (the script changed nothing); the others are outcomes.
local C = {
  NOT_FOUND = -1, WRONG_STATUS = -2, DUPLICATE = -3, IDEMPOTENCY_CONFLICT = -4,
  UNKNOWN_PARENT = -5, SCHEDULE_NOT_FOUND = -6, SCHEDULE_LIMIT = -7, SCHEDULE_RATE = -8,
  OVER_RATE = -9,
  NOTHING = 0, DONE = 1,
  PENDING = 10, SCHEDULED = 11, WAITING = 12, CANCELED = 13, REPLAYED = 14,
  SKIPPED = 21, RATE_LIMITED = 22, POISONED = 23, HANDED_BACK = 24, HELD = 25,
  PARKED = 26,
  SUCCEEDED = 30, RETRYING = 31, DEAD = 32, STALE = 33,
  CHILDREN_CHANGED = 40, CREATED = 50, REPLACED = 51,
  WITH_DEPENDENTS = 100,
}

-- Key names built here, from a key or prefix passed in, because they name per-tenant or
-- per-job keys a script only learns of while it runs. keys.py builds the same names
-- (Keys.lane, Keys.running, Keys.bell, Keys.job); tests/integration/queue/scripts/
-- test_lib_keys.py checks the two agree. No script builds a key name any other way.
local keyname = {}
-- (a level's text from a table: a number concatenated goes through Lua's %.14g, ~5,000
-- instructions, once per job on the enqueue and dispatch paths)
local LEVEL_TEXT = {'1', '2', '3', '4'}
function keyname.lane(lanes, tenant, level)
  return lanes .. ':' .. tenant .. ':' .. (LEVEL_TEXT[level] or level)
end
function keyname.running(lanes, tenant) return lanes .. ':' .. tenant .. ':running' end
function keyname.bell(lanes) return lanes .. ':bell' end
function keyname.capped(lanes) return lanes .. ':capped' end
function keyname.job(job_prefix, id) return job_prefix .. id end
-- A job index's buckets (dtq.queue.job_index): zsets of at most INDEX_BUCKET ids, numbered
-- from 1, and their directory, a zset of bucket numbers scored by each one's first score.
function keyname.index_dir(index) return index .. '#' end
function keyname.index_bucket(index, b) return index .. '#' .. b end
local INDEX_BUCKET = 128
-- A named queue's job streams (critical to low) and lanes key, from the shard base and stream
-- name the caller passes (keys.py's QueueKeys): `default` lives at the base, another queue
-- under '<base>:queue:<name>'. Used by the scripts that route jobs of any queue.
local STREAM_SUFFIX = {':critical', ':high', '', ':low'}
function keyname.queue(base, stream_name, queue)
  local root = base
  if queue and queue ~= '' and queue ~= 'default' then root = base .. ':queue:' .. queue end
  local s = root .. ':' .. stream_name
  local streams = {}
  for level, suffix in ipairs(STREAM_SUFFIX) do streams[level] = s .. suffix end
  return {streams = streams, lanes = root .. ':lanes', root = root}
end
-- A queue's finished jobs of one kind kept by retention (`succeeded`, `canceled`), a list of
-- "<finish ms> <id>", oldest first (keys.py's QueueKeys.finished).
function keyname.finished(root, kind) return root .. ':finished:' .. kind end

-- The line of one partition key in a queue (its root): the key is hashed, never put in a name.
function keyname.line(root, partition_key)
  return root .. ':pk:' .. redis.sha1hex(partition_key)
end

-- The keys of a job's queue (`queue` is the job hash's field: nil means default), built once
-- per queue in one script call.
local queues_seen = {}
local function queue_keys(base, stream_name, queue)
  queue = queue or 'default'
  local q = queues_seen[queue]
  if not q then
    q = keyname.queue(base, stream_name, queue)
    queues_seen[queue] = q
  end
  return q
end

-- A number handed to redis.call is formatted as text on every call (Lua's %.14g: about 1 us
-- each, the largest cost of some scripts); `text` formats an integer once per script call.
local texts = {}
local function text(n)
  local s = texts[n]
  if not s then
    s = string.format('%d', n)
    texts[n] = s
  end
  return s
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A tenant's submission rate limit, a token bucket on the Redis clock shared by every API
-- instance (admit.lua; enqueue.lua when it admits its own jobs). `cost` submissions are taken
-- whole or not at all; a refused request takes no tokens. The bucket is a hash (tokens, at).
-- take_tokens_each answers `times` requests of `cost` each, in turn (as if sent one after
-- another), with one read and one write of the bucket; take_tokens one request. An answer:
-- {admitted (1 or 0), tokens left (floor), ms until `cost` tokens are there (0 when
-- admitted), ms until the bucket is full again}.
local function take_tokens_each(bucket, rate, burst, cost, now, times)
  local b = redis.call('HMGET', bucket, 'tokens', 'at')
  local tokens = tonumber(b[1]) or burst
  local at = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
  local answers = {}
  for i = 1, times do
    local admitted = 0
    local wait = 0
    if cost <= tokens then
      tokens = tokens - cost
      admitted = 1
    else
      wait = math.ceil((cost - tokens) * 1000 / rate)
    end
    answers[i] = {admitted, math.floor(tokens), wait, math.ceil((burst - tokens) * 1000 / rate)}
  end
  -- Lua numbers are doubles: store the fraction as a string so no precision is lost.
  redis.call('HSET', bucket, 'tokens', string.format('%.6f', tokens), 'at', now)
  redis.call('PEXPIRE', bucket, answers[times][4] + 1000)
  return answers
end

local function take_tokens(bucket, rate, burst, cost, now)
  return take_tokens_each(bucket, rate, burst, cost, now, 1)[1]
end

-- Append a state transition to the capped events stream. `job_ids` is one id, or the
-- comma-separated ids of at most EVENT_IDS jobs a batch moved to the same status at once.
local function emit(events, maxlen, job_ids, status, now, ...)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*',
    'job_ids', job_ids, 'status', status, 'at', now, ...)
end

-- emit() for a list of ids, EVENT_IDS to an entry: the stream's cap (entries) then bounds
-- its memory whatever the size of the batches (one entry for a purge of 100,000 jobs held
-- 3.3 MB).
local EVENT_IDS = 64
local function emit_ids(events, maxlen, ids, status, now, ...)
  for j = 1, #ids, EVENT_IDS do
    emit(events, maxlen, table.concat(ids, ',', j, math.min(j + EVENT_IDS - 1, #ids)), status,
      now, ...)
  end
end

-- Counter deltas are summed in a table and written once per script call.
local function bump(delta, field, n)
  delta[field] = (delta[field] or 0) + n
end

-- Latency histograms live in the stats hash as cumulative counts, `lat:<kind>:<bin>` (kinds:
-- `wait`, pending to started; `run`, started to succeeded). Bin 0 holds durations under 1 ms,
-- bin b >= 1 those from 2^((b-1)/2) up to 2^(b/2) ms (half powers of two); history.py reads them.
-- The field is remembered per duration for the script call: a batch's jobs mostly share a few
-- durations, and working the bin out (two logarithms) cost ~1 % of a job's instructions.
local lat_fields = {}  -- kind -> ms -> field name, built once per script call
local function observe(delta, kind, ms)
  local names = lat_fields[kind]
  if not names then
    names = {}
    lat_fields[kind] = names
  end
  local field = names[ms]
  if not field then
    local bin = 0
    if ms >= 1 then bin = math.min(math.floor(2 * math.log(ms) / math.log(2)) + 1, 60) end
    field = 'lat:' .. kind .. ':' .. bin
    names[ms] = field
  end
  delta[field] = (delta[field] or 0) + 1
end

-- A queue's running jobs are counted in the stats hash under its normal stream's name: its
-- pending entries do not count them (a shared entry names a run of jobs, see read.lua).
local function running_field(normal_stream)
  return 'running@' .. normal_stream
end

local function flush(stats, delta)
  for field, n in pairs(delta) do
    if n ~= 0 then redis.call('HINCRBY', stats, field, n) end
  end
end

-- Acknowledge stream entries: one XACK per 500 entries, not per entry. Entries are not deleted
-- one by one (XDEL costs ~3 us per entry); trim.lua trims whole runs of acknowledged entries.
local function acknowledge(stream, group, entries)
  for i = 1, #entries, 500 do
    redis.call('XACK', stream, group, unpack(entries, i, math.min(i + 499, #entries)))
  end
end

-- Move a job to the dead-letter stream (the entry names the job's tenant, for tenant views).
-- The caller acknowledges its stream entry.
local function dead_letter(job_key, dlq, id, task_type, reason, attempt, failures, now, history)
  -- The entry carries what the DLQ is filtered by; the last error and its traceback stay on the
  -- job's hash only (`errors`), where dtq.queue.dlq reads them for a listing.
  local dlq_entry = redis.call('XADD', dlq, '*', 'job_id', id, 'task_type', task_type,
    'reason', reason, 'attempt', attempt, 'failures', failures, 'failed_at', now,
    'tenant', redis.call('HGET', job_key, 'tenant') or 'default')
  redis.call('HSET', job_key, 'status', 'dead', 'dead_reason', reason, 'dlq_entry', dlq_entry,
    'finished_at', now, 'entry', '', 'history', history)
  redis.call('PERSIST', job_key)
end

-- A job's timeline: the happy path (pending, running, succeeded) is implicit in created_at,
-- started_at and finished_at, which keeps a plain job's hash small. Once anything else happens,
-- `history` records every transition as "status,at,worker,attempt,reason;".
-- written_out: the history to append to, with an implicit start written out.
local function written_out(history, job_key)
  if history and history ~= '' then return history end
  local f = redis.call('HMGET', job_key, 'started_at', 'worker', 'attempt')
  if not f[1] or f[1] == '' then return '' end
  return string.format('running,%s,%s,%s,;', f[1], f[2] or '', f[3] or '')
end

-- Append one record; the oldest half goes once the history passes 16 KiB.
local function appended(history, status, now, worker, attempt, reason)
  local h = string.format('%s%s,%d,%s,%s,%s;', history or '', status, now, worker or '',
    attempt or '', reason or '')
  if #h > 16384 then h = string.sub(h, string.find(h, ';', #h / 2, true) + 1) end
  return h
end

-- Priority levels, highest first. A script that touches job streams takes all four in KEYS in
-- this order; a job's level picks its stream (no `priority` field means normal).
local LEVELS = {critical = 1, high = 2, normal = 3, low = 4}
local function level_of(priority)
  return LEVELS[priority] or 3
end

-- Collect entry ids per stream level, then acknowledge each level's entries in batches.
local function add_entry(by_level, level, entry)
  local list = by_level[level]
  if not list then
    list = {}
    by_level[level] = list
  end
  list[#list + 1] = entry
end

local function ack_by_level(streams, group, by_level)
  for level, entries in pairs(by_level) do acknowledge(streams[level], group, entries) end
end

-- A job that other jobs wait on finished: queue it in the outbox, from which its dependents
-- are released (parent succeeded) or canceled (parent dead or canceled) by release.lua.
local function notify_dependents(outbox, id, now)
  redis.call('ZADD', outbox, now, id)
end

-- Cancel a waiting job because one of its parents ended dead or canceled (the caller keeps it
-- by its queue's retention).
local function cancel_for_dependency(job_key, now, history, parent)
  redis.call('HSET', job_key, 'status', 'canceled', 'cancel_reason', 'dependency_failed',
    'failed_parent', parent, 'finished_at', now,
    'history', appended(history, 'canceled', now, '', '', 'dependency_failed'))
  redis.call('HDEL', job_key, 'deps_left')
end

-- Lanes: fair dispatch across tenants (read.lua). With keys on, a tenant's pending jobs wait in
-- its lane, one list per priority level `<lanes>:<tenant>:<level>`, instead of on the streams;
-- `<lanes>` is a sorted set of the tenants with jobs waiting, scored by virtual time. A job a
-- worker may now take is on a stream and, a capped tenant's, in its tenant's running set
-- `<lanes>:<tenant>:running` until it settles; its hash names that set in `lane_slot` once it
-- starts (an uncapped tenant's take no slot: workers report what they run in heartbeats).
-- `active` is a table the caller keeps for one script call (tenants known to be in `lanes`).
-- lane_enter: the tenant's part of a push (its place in `lanes`), for a caller that pushes the
-- ids itself (enqueue.lua, one RPUSH per lane for a whole batch).
local function lane_enter(lanes, tenant, active)
  if not active[tenant] then
    if not redis.call('ZSCORE', lanes, tenant) then
      -- A tenant that was idle starts level with the least served one waiting: no saved credit.
      local first = redis.call('ZRANGE', lanes, 0, 0, 'WITHSCORES')
      redis.call('ZADD', lanes, first[2] or 0, tenant)
    end
    active[tenant] = true
  end
end

local function lane_push(lanes, tenant, level, id, active)
  redis.call('RPUSH', keyname.lane(lanes, tenant, level), id)
  lane_enter(lanes, tenant, active)
end

-- Whether stream entry id `a` ("<ms>-<seq>") comes after `b`.
local function entry_after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  am, bm = tonumber(am), tonumber(bm)
  return am > bm or (am == bm and tonumber(as) > tonumber(bs))
end

-- Whether a stream entry is shared: one naming a tenant's run of jobs (`ids`, see read.lua),
-- which its worker acks once none of its jobs runs there.
local function shared_entry(stream, entry)
  local found = redis.call('XRANGE', stream, entry, entry)[1]
  return found ~= nil and found[2][1] == 'ids'
end

-- Whether the bell `<lanes>:bell` names ("<entry id> <stream>") still waits on its stream
-- for a worker: its entry is there and no consumer group has been handed it.
local function bell_unread(out)
  local space = string.find(out, ' ', 1, true)
  if not space then return false end
  local id, stream = string.sub(out, 1, space - 1), string.sub(out, space + 1)
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if not ok then return false end  -- no stream: no bell
  for _, g in ipairs(groups) do
    for j = 1, #g - 1, 2 do
      if g[j] == 'last-delivered-id' and not entry_after(id, g[j + 1]) then return false end
    end
  end
  return #redis.call('XRANGE', stream, id, id) > 0  -- not deleted meanwhile (a purge)
end

-- Wake a worker blocked on the streams: a `bell` entry, which read.lua and start.lua
-- acknowledge (take_bell). At most one bell waits unread: `<lanes>:bell` holds "<entry id>
-- <stream>" of the last one rung, and another is rung only once a worker was handed that one
-- (should that worker die before it acknowledges it, the next ring wakes another). Bells rung
-- while none was read each counted as a job waiting (a queue with no worker showed twice its
-- jobs).
local function ring(lanes, stream)
  local bell = keyname.bell(lanes)
  local out = redis.call('GET', bell)
  if out and bell_unread(out) then return end
  redis.call('SET', bell, redis.call('XADD', stream, '*', 'bell', 1) .. ' ' .. stream)
end

-- Bell entries acknowledged (`by_level`: level -> entry ids): the last bell rung is no longer
-- out if among them.
local function take_bell(lanes, by_level)
  local bell = keyname.bell(lanes)
  local out = redis.call('GET', bell)
  if not out then return end
  local id = string.sub(out, 1, (string.find(out, ' ', 1, true) or (#out + 1)) - 1)
  for _, entries in pairs(by_level) do
    for _, entry in ipairs(entries) do
      if entry == id then
        redis.call('DEL', bell)
        return
      end
    end
  end
end

-- The tenant a stored job id belongs to (dtq/queue/tenant_ids.py): `<tenant>/<id>`, or a bare
-- id of the default tenant's. A job's lane is its tenant's.
local function tenant_of(id)
  local slash = string.find(id, '/', 1, true)
  return slash and string.sub(id, 1, slash - 1) or 'default'
end

-- A dispatched job settled (or left the streams): its tenant's running set lets it go.
-- Returns true when it held a slot; the caller then calls wake_lanes once.
local function free_slot(job_key, id, slot)
  if slot and slot ~= '' then
    redis.call('SREM', slot, id)
    redis.call('HDEL', job_key, 'lane_slot')
    return true
  end
  return false
end

-- Settled jobs' slots given back together, one SREM per running set (`slots`: set -> ids; the
-- caller set each job's lane_slot to '' in its own HSET).
local function free_slots(slots)
  for set, ids in pairs(slots) do
    for i = 1, #ids, 500 do redis.call('SREM', set, unpack(ids, i, math.min(i + 499, #ids))) end
  end
end

-- Slots were freed: if a tenant's jobs wait on its cap, wake a blocked worker to dispatch them.
-- `<lanes>:capped` exists while the last read that could tell found such a tenant (read.lua);
-- jobs of uncapped tenants need no wake here: the read that left them, or their submission,
-- rang for them.
local function wake_lanes(lanes, stream)
  if redis.call('EXISTS', keyname.capped(lanes)) == 1 and redis.call('EXISTS', lanes) == 1 then
    ring(lanes, stream)
  end
end

-- Per-key ordering (partition_key). The jobs of one key in one queue wait in the key's line, a
-- list in submission order (keyname.line; the job hash names it in `pk_line`), and only the
-- line's head may start. A job read before its turn is parked: its entry is acknowledged and
-- `parked_to` names the stream it goes back to (and `parked_lanes` its queue's lanes, for a job
-- of a tenant's lane). A job leaves its line when it finishes (succeeded, dead, canceled); if
-- the next one was parked, it goes back then. A retried job stays at the head: later jobs of
-- its key wait for its retries.

-- Whether a job may start now: it has no line, or it heads it. A line found empty (lost, e.g.
-- deleted by hand) takes the job back as its head rather than park it for good.
local function heads_line(line, id)
  if not line or line == '' then return true end
  local head = redis.call('LINDEX', line, 0)
  if not head then
    redis.call('RPUSH', line, id)
    return true
  end
  return head == id
end

-- Park a job read before its turn (the caller acknowledges its entry and frees its slot).
local function park(job_key, stream, lanes)
  redis.call('HSET', job_key, 'entry', '', 'parked_to', stream)
  if lanes then redis.call('HSET', job_key, 'parked_lanes', lanes) end
end

-- A job finished: it leaves its line, and the job now at the head goes back if it was parked.
local function leave_line(job_key, id, line)
  if not line or line == '' then return end
  local head = redis.call('LINDEX', line, 0)
  redis.call('LREM', line, 1, id)
  if head ~= id then return end
  local next_id = redis.call('LINDEX', line, 0)
  if not next_id then return end
  local key = string.sub(job_key, 1, #job_key - #id) .. next_id
  local f = redis.call('HMGET', key, 'parked_to', 'status', 'priority', 'lane', 'parked_lanes')
  if not f[1] then return end
  redis.call('HDEL', key, 'parked_to', 'parked_lanes')
  if f[2] ~= 'pending' then return end
  if f[4] and f[5] then
    lane_push(f[5], f[4], level_of(f[3]), next_id, {})
    ring(f[5], f[1])
  else
    redis.call('HSET', key, 'entry', redis.call('XADD', f[1], '*', 'id', next_id))
  end
end

-- Retention (dtq/queue/retention.py): how many finished jobs of a kind a queue keeps and for how
-- long, enforced here as jobs finish, never by a sweeper. A queue's own policy is a CSV in the
-- retention hash, "succeeded count,succeeded s,canceled count,canceled s" (-2: the default);
-- `defaults` holds the settings' values. A count of -1 keeps any number.
local function policy_of(retention, queue, kind, defaults)
  local count, age = defaults[kind .. '_count'], defaults[kind .. '_s']
  local raw = redis.call('HGET', retention, queue or 'default')
  if raw then
    local t = {}
    for v in string.gmatch(raw, '[^,]+') do t[#t + 1] = tonumber(v) end
    local at = kind == 'succeeded' and 1 or 3
    if t[at] and t[at] ~= -2 then count = t[at] end
    if t[at + 1] and t[at + 1] ~= -2 then age = t[at + 1] end
  end
  return count, age
end

-- Defaults from four ARGV values starting at `at`: succeeded count, succeeded s, canceled count,
-- canceled s.
local function retention_defaults(at)
  return {succeeded_count = tonumber(ARGV[at]), succeeded_s = tonumber(ARGV[at + 1]),
          canceled_count = tonumber(ARGV[at + 2]), canceled_s = tonumber(ARGV[at + 3])}
end

-- retention.py's retention_config (one JSON ARGV) as {job_prefix, defaults, gone_max}, for a
-- script that may cancel jobs of any queue (enqueue, release).
local function retention_config(raw)
  local c = cjson.decode(raw)
  local d = c.defaults
  return {job_prefix = c.job_prefix, gone_max = tonumber(c.gone_max),
          defaults = {succeeded_count = tonumber(d[1]), succeeded_s = tonumber(d[2]),
                      canceled_count = tonumber(d[3]), canceled_s = tonumber(d[4])}}
end

-- Tombstones in `gone` (a zset capped at gone_max, newest kept), `pairs` = {removal ms, id,
-- ...}: GET answers 410 for those ids, not 404.
local function lay_tombstones(gone, gone_max, pairs)
  for i = 1, #pairs, 1000 do
    redis.call('ZADD', gone, unpack(pairs, i, math.min(i + 999, #pairs)))
  end
  redis.call('ZREMRANGEBYRANK', gone, 0, -(gone_max + 1))
end

-- Remove finished jobs for good: their hashes, their index entries, and leave a tombstone in
-- `gone` (a zset capped at gone_max, newest kept) so that GET says the job was removed.
-- A job's entry is in its tenant's index (`<index>:<tenant>` for an id stored as
-- `<tenant>/<id>`, else the shard's `index`), in the bucket its hash names (`ix`; `buckets[i]`
-- when the caller read it already, false when the hash has none). A job indexed before buckets
-- (no `ix`) is in the index zset itself, and a named tenant's may be in the shard's too (before
-- 2026-11-27). A bucket left empty leaves its index's directory.
local function remove_jobs(job_prefix, index, gone, gone_max, ids, now, buckets)
  local keys, tombs, by_index = {}, {}, {}  -- index -> bucket ('' for the zset itself) -> ids
  local at = text(now)  -- formatted once, not per tombstone
  for i, id in ipairs(ids) do
    keys[i] = keyname.job(job_prefix, id)
    tombs[#tombs + 1] = at
    tombs[#tombs + 1] = id
    local tenant = tenant_of(id)
    local own = tenant == 'default' and index or index .. ':' .. tenant
    local b = buckets and buckets[i]
    if b == nil then b = redis.call('HGET', keys[i], 'ix') end
    b = b or ''
    by_index[own] = by_index[own] or {}
    add_entry(by_index[own], b, id)
    if b == '' and own ~= index then
      by_index[index] = by_index[index] or {}
      add_entry(by_index[index], '', id)
    end
  end
  for i = 1, #keys, 500 do redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys))) end
  for own, by_bucket in pairs(by_index) do
    for b, members in pairs(by_bucket) do
      local key = b == '' and own or keyname.index_bucket(own, b)
      for i = 1, #members, 500 do
        redis.call('ZREM', key, unpack(members, i, math.min(i + 499, #members)))
      end
      if b ~= '' and redis.call('EXISTS', key) == 0 then
        redis.call('ZREM', keyname.index_dir(own), b)
      end
    end
  end
  lay_tombstones(gone, gone_max, tombs)
end

-- The most finished jobs one call removes for their age, and beyond those it just kept for the
-- count (the next call takes the rest): a script call stays short whatever the backlog.
local AGED_MAX = 1000

-- A finished list entry, "<finish ms> <id>", as (finish ms as text, id).
local function finished_entry(entry)
  local space = string.find(entry, ' ', 1, true)
  return string.sub(entry, 1, space - 1), string.sub(entry, space + 1)
end

-- Keep the jobs of one queue that just finished as `kind` by its policy: the queue keeps them
-- for at most the policy's age and at most the policy's count of them (the oldest go first).
-- `keeps[i]` is how job i is kept: false, by the policy alone; its own `keep` field: 0 removes
-- it at once, more gives it an expiry of its own (and the queue's age does not shorten it); or
-- true: others wait on it, so it stays until release.lua has let them go (release reads its
-- status), then goes by the policy; a policy that keeps none cannot strand its dependents.
-- No ids: only the policy is applied (housekeeping does so for queues where nothing finishes).
-- The queue's finished list holds "<finish ms> <id>" oldest first (a list: ~50 bytes an entry,
-- O(1) to add and to pop): the age is enforced from its head, not by an expiry on each job
-- (one command less per job, ~44 bytes less per kept job on Redis 7, and a tombstone for every
-- removal).
-- `r` = {retention hash, finished list, job prefix, index, gone, gone max, defaults}.
-- Returns how many jobs were removed.
local function retain(r, queue, kind, ids, keeps, now)
  local count, age = policy_of(r.retention, queue, kind, r.defaults)
  local entries, drop, expiring = {}, {}, {}
  local buckets = {}  -- drop[i]'s index bucket, when read here (nil: remove_jobs reads it)
  for i, id in ipairs(ids) do
    local waited_on = keeps[i] == true
    local keep = not waited_on and keeps[i] and tonumber(keeps[i])
    if not waited_on and (keep or age) <= 0 then
      drop[#drop + 1] = id
    else
      if keep then
        redis.call('EXPIRE', keyname.job(r.job_prefix, id), text(keep))
        -- Its tombstone now, dated when its expiry removes it (a removal before then dates it
        -- anew): GET tells a job gone by its own time from one that never existed.
        expiring[#expiring + 1] = now + keep * 1000
        expiring[#expiring + 1] = id
      end
      entries[#entries + 1] = text(now) .. ' ' .. id
    end
  end
  if #expiring > 0 then lay_tombstones(r.gone, r.gone_max, expiring) end
  local length
  for i = 1, #entries, 1000 do
    length = redis.call('RPUSH', r.finished, unpack(entries, i, math.min(i + 999, #entries)))
  end
  length = length or redis.call('LLEN', r.finished)
  -- "<ms> <id>" entries leave the head: those beyond the count, then those older than the age.
  local popped = {}
  if count >= 0 and length > count then  -- a count just lowered is reached over several calls
    popped = redis.call('LPOP', r.finished, math.min(length - count, #entries + AGED_MAX))
  end
  local over = #popped  -- popped[1..over] went for the count; any after for their age
  local cutoff = now - age * 1000
  while #popped - over < AGED_MAX do
    local head = redis.call('LINDEX', r.finished, 0)
    if not head or tonumber((finished_entry(head))) > cutoff then break end
    local ahead = redis.call('LRANGE', r.finished, 0, AGED_MAX - (#popped - over) - 1)
    local old = 0
    for _, entry in ipairs(ahead) do
      if tonumber((finished_entry(entry))) > cutoff then break end
      old = old + 1
      popped[#popped + 1] = entry
    end
    redis.call('LTRIM', r.finished, old, -1)
    if old < #ahead then break end
  end
  -- An id may have been reused since (a client's own id, after the old job expired): only a
  -- hash that still records this very finish is removed; a job kept for its own time (an
  -- expiry of its own) leaves the list for its age but stays until then; and a job others
  -- still wait on goes back to the list's tail, for a later call once release.lua is done.
  local again = {}
  for j, entry in ipairs(popped) do
    local at, id = finished_entry(entry)
    local key = keyname.job(r.job_prefix, id)
    local f = redis.call('HMGET', key, 'finished_at', 'dependents', 'ix')
    if f[1] == at then
      if f[2] then
        again[#again + 1] = entry
      elseif j <= over or redis.call('PTTL', key) < 0 then
        drop[#drop + 1] = id
        buckets[#drop] = f[3]
      end
    end
  end
  for i = 1, #again, 1000 do
    redis.call('RPUSH', r.finished, unpack(again, i, math.min(i + 999, #again)))
  end
  if #drop > 0 then remove_jobs(r.job_prefix, r.index, r.gone, r.gone_max, drop, now, buckets) end
  return #drop
end

-- A succeeded job that others waited on, once release.lua has let them go: its own `keep`,
-- which retain put off, applies now (0: removed; N: an expiry N s from its finish, with its
-- tombstone dated then); without one it stays in its queue's finished list, kept by the policy.
local function keep_own(job_key, id, config_raw, index, gone, now)
  local f = redis.call('HMGET', job_key, 'keep', 'finished_at', 'ix')
  if not f[1] then return end
  local config = retention_config(config_raw)
  local until_ms = tonumber(f[2] or now) + tonumber(f[1]) * 1000
  if until_ms <= now then
    remove_jobs(config.job_prefix, index, gone, config.gone_max, {id}, now, {f[3]})
  else
    redis.call('PEXPIRE', job_key, until_ms - now)
    lay_tombstones(gone, config.gone_max, {until_ms, id})
  end
end

-- Keep jobs canceled for their parents (`by_queue`: queue name, '' for default -> ids) by
-- their queues' retention, `config` from retention_config; `keep` is true for ids others wait on.
local function retain_canceled(by_queue, keep, config, retention, index, gone, base, stream_name,
                               now)
  for queue, ids in pairs(by_queue) do
    local keeps = {}
    for i, id in ipairs(ids) do keeps[i] = keep[id] or false end
    local name = queue ~= '' and queue or nil
    retain({retention = retention, index = index, gone = gone, gone_max = config.gone_max,
            finished = keyname.finished(queue_keys(base, stream_name, name).root, 'canceled'),
            job_prefix = config.job_prefix, defaults = config.defaults},
           name, 'canceled', ids, keeps, now)
  end
end
