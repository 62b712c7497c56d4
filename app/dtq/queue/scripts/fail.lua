#!lua flags=allow-oom
--[[
  fail: record failed attempts, each with its error and traceback (the last 10 are kept);
  schedule a retry after the given delay, or dead-letter the job once its failures exceed
  max_retries, or at once when its reason is `invalid_result` (the handler returned something
  that is not JSON: its side effects happened, and a retry would repeat them). Either way the
  current stream entry is acknowledged (a shared one by its worker, once none of its jobs runs
  there); a retry gets a new entry when promote_due moves it back to the stream. A dead job that
  others wait on goes to the dependency outbox, from which release.lua cancels its dependents.

  Fenced like complete: a stale owner is refused and changes nothing. A dead job leaves its
  key's line; a retried one stays at its head.

  KEYS[1..4] job streams, critical to low   KEYS[5] delayed (zset)   KEYS[6] dlq   KEYS[7] stats
  KEYS[8] events   KEYS[9] dependency outbox   KEYS[10] lanes (zset)   KEYS[10+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] events maxlen   ARGV[4] n
  ARGV[5 + 8(i-1) ..] job i: job id, stream level (1-4; negated: leave
    the entry unacknowledged, other jobs of it still run), stream entry id, attempt, error text,
    retry delay (ms), reason ('error', 'timeout': a job whose last attempt timed out dies with
    reason timeout, or 'invalid_result' / 'invalid_payload', which die at once), traceback
    ('' if none)

  Returns one array per job: {C.RETRYING, due_at_ms}, {C.DEAD} (plus C.WITH_DEPENDENTS when
    jobs wait on it: release them, to be canceled) or {C.STALE} (another owner or attempt holds
    the job; nothing changed)
]]
local group, consumer = ARGV[1], ARGV[2]
local n = tonumber(ARGV[4])
local streams = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local delayed, dlq, stats, events, outbox = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now = now_ms()
local delta = {}
local out = {}
local finished = {}
local freed = false
-- Transitions, one events entry per (status, attempt, reason) as complete.lua's one per batch:
-- a burst of failures would otherwise push the rest of the feed out of the capped stream.
local told, told_order = {}, {}
local function tell(status, attempt, reason, id)
  local kind = status .. ' ' .. attempt .. ' ' .. reason
  if not told[kind] then
    told[kind] = {status = status, attempt = attempt, reason = reason, ids = {}}
    told_order[#told_order + 1] = kind
  end
  local ids = told[kind].ids
  ids[#ids + 1] = id
end

for i = 1, n do
  local o = 4 + (i - 1) * 8
  local id, level, entry, attempt, err =
    ARGV[o + 1], tonumber(ARGV[o + 2]), ARGV[o + 3], ARGV[o + 4], ARGV[o + 5]
  local reason, tb = ARGV[o + 7], ARGV[o + 8]
  local key = KEYS[10 + i]
  local f = redis.call('HMGET', key, 'status', 'worker', 'attempt', 'entry', 'failures',
    'max_retries', 'errors', 'task_type', 'history', 'dependents', 'lane_slot', 'pk_line')
  if f[1] ~= 'running' or f[2] ~= consumer or f[3] ~= attempt or f[4] ~= entry then
    out[i] = {C.STALE}
  else
    local failures = tonumber(f[5] or '0') + 1
    local errors = {}
    if f[7] then errors = cjson.decode(f[7]) end
    local record = {attempt = tonumber(attempt), error = err, at = now}
    if tb ~= '' then record.traceback = tb end
    table.insert(errors, record)
    while #errors > 10 do table.remove(errors, 1) end
    -- the last record is the job's last error (no `last_error` copy: dtq.queue.jobhash)
    redis.call('HSET', key, 'failures', failures, 'errors', cjson.encode(errors),
      'finished_at', now)
    if level > 0 then add_entry(finished, level, entry) end
    if free_slot(key, id, f[11]) then freed = true end
    bump(delta, 'jobs:running', -1)
    bump(delta, running_field(KEYS[3]), -1)
    bump(delta, 'failed_total', 1)
    local final = reason == 'invalid_result' or reason == 'invalid_payload'
    if failures > tonumber(f[6]) or final then
      local dead_reason = 'retries_exhausted'
      if reason == 'timeout' or final then dead_reason = reason end
      dead_letter(key, dlq, id, f[8], dead_reason, attempt, failures, now,
        appended(written_out(f[9], key), 'dead', now, consumer, attempt, dead_reason))
      leave_line(key, id, f[12])
      bump(delta, 'jobs:dead', 1)
      bump(delta, 'dead_total', 1)
      tell('dead', attempt, dead_reason, id)
      out[i] = {C.DEAD}
      if f[10] then
        notify_dependents(outbox, id, now)
        out[i] = {C.DEAD + C.WITH_DEPENDENTS}
      end
    else
      local due = now + tonumber(ARGV[o + 6])
      redis.call('HSET', key, 'status', 'scheduled', 'due_at', due, 'entry', '',
        'history', appended(written_out(f[9], key), 'scheduled', now, consumer, attempt, reason))
      redis.call('ZADD', delayed, due, id)
      bump(delta, 'jobs:scheduled', 1)
      bump(delta, 'retried_total', 1)
      tell('scheduled', attempt, reason, id)
      out[i] = {C.RETRYING, due}
    end
  end
end

ack_by_level(streams, group, finished)
for _, kind in ipairs(told_order) do
  local t = told[kind]
  emit_ids(events, ARGV[3], t.ids, t.status, now, 'worker', consumer, 'attempt', t.attempt,
    'reason', t.reason)
end
if freed then wake_lanes(KEYS[10], KEYS[3]) end
flush(stats, delta)
return out
