--[[
  start: mark delivered stream entries as running under this consumer (a new attempt).

  Called right after XREADGROUP or XAUTOCLAIM hands the entries to this consumer. An entry whose
  job is gone, finished, canceled or re-enqueued under a newer entry is acked and deleted. A job
  delivered more than max_deliveries times without finishing is dead-lettered as `poison`.

  KEYS[1] job stream   KEYS[2] dlq   KEYS[3] stats   KEYS[4] events
  KEYS[4+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] max deliveries   ARGV[4] events maxlen
  ARGV[5] n
  ARGV[6 + 2(i-1) ..] entry i: stream entry id, job id

  Returns one array per entry:
    {1, attempt, failures, max_retries, task_type, payload, timeout_s}  started
    {0}   skipped (acked and deleted: nothing to run)
    {-5}  dead-lettered as poison
]]
local group, consumer = ARGV[1], ARGV[2]
local max_deliveries = tonumber(ARGV[3])
local n = tonumber(ARGV[5])
local now = now_ms()
local delta = {}
local out = {}
local finished = {}
local started = {}

for i = 1, n do
  local entry, id = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local key = KEYS[4 + i]
  local f = redis.call('HMGET', key, 'status', 'entry', 'deliveries', 'attempt', 'failures',
    'max_retries', 'task_type', 'payload', 'last_error', 'timeout_s', 'history')
  local status = f[1]
  if (status ~= 'pending' and status ~= 'running') or f[2] ~= entry then
    finished[#finished + 1] = entry
    out[i] = {0}
  else
    local deliveries = tonumber(f[3]) + 1
    if deliveries > max_deliveries then
      dead_letter(key, KEYS[2], id, f[7], 'poison', f[4], f[9] or '', now,
        appended(f[11], 'dead', now, consumer, f[4], 'poison'))
      redis.call('HSET', key, 'deliveries', deliveries)
      finished[#finished + 1] = entry
      bump(delta, 'jobs:' .. status, -1)
      bump(delta, 'jobs:dead', 1)
      bump(delta, 'dead_total', 1)
      emit(KEYS[4], ARGV[4], id, 'dead', now, 'reason', 'poison', 'attempt', f[4])
      out[i] = {-5}
    else
      local attempt = tonumber(f[4]) + 1
      local reason = status == 'running' and 'reclaimed' or ''
      redis.call('HSET', key, 'status', 'running', 'worker', consumer, 'attempt', attempt,
        'deliveries', deliveries, 'started_at', now,
        'history', appended(f[11], 'running', now, consumer, attempt, reason))
      if status == 'pending' then
        bump(delta, 'jobs:pending', -1)
        bump(delta, 'jobs:running', 1)
      end
      started[#started + 1] = id
      out[i] = {1, attempt, f[5], f[6], f[7], f[8], f[10] or ''}
    end
  end
end

ack_and_delete(KEYS[1], group, finished)
if #started > 0 then
  emit(KEYS[4], ARGV[4], table.concat(started, ','), 'running', now, 'worker', consumer)
end
flush(KEYS[3], delta)
return out
