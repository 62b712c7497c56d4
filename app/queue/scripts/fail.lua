--[[
  fail: record failed attempts; schedule a retry after the given delay, or dead-letter the job
  once its failures exceed max_retries. Either way the current stream entry is acked and deleted;
  a retry gets a new entry when promote_due moves it back to the stream.

  Fenced like complete: a stale owner is refused and changes nothing.

  KEYS[1] job stream   KEYS[2] delayed (zset)   KEYS[3] dlq   KEYS[4] stats   KEYS[5] events
  KEYS[5+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] events maxlen   ARGV[4] n
  ARGV[5 + 6(i-1) ..] job i: job id, stream entry id, attempt, error text, retry delay (ms),
    reason ('error' or 'timeout': a job whose last attempt timed out dies with reason timeout)

  Returns one array per job: {1, due_at_ms} retry scheduled, {2} dead-lettered, {-3} stale owner
]]
local group, consumer = ARGV[1], ARGV[2]
local n = tonumber(ARGV[4])
local now = now_ms()
local delta = {}
local out = {}
local finished = {}

for i = 1, n do
  local o = 4 + (i - 1) * 6
  local id, entry, attempt, err = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
  local key = KEYS[5 + i]
  local f = redis.call('HMGET', key, 'status', 'worker', 'attempt', 'entry', 'failures',
    'max_retries', 'errors', 'task_type', 'history')
  if f[1] ~= 'running' or f[2] ~= consumer or f[3] ~= attempt or f[4] ~= entry then
    out[i] = {-3}
  else
    local failures = tonumber(f[5]) + 1
    local errors = {}
    if f[7] then errors = cjson.decode(f[7]) end
    table.insert(errors, {attempt = tonumber(attempt), error = err, at = now})
    while #errors > 10 do table.remove(errors, 1) end
    redis.call('HSET', key, 'failures', failures, 'last_error', err,
      'errors', cjson.encode(errors), 'finished_at', now)
    finished[#finished + 1] = entry
    bump(delta, 'jobs:running', -1)
    bump(delta, 'failed_total', 1)
    if failures > tonumber(f[6]) then
      local reason = ARGV[o + 6] == 'timeout' and 'timeout' or 'retries_exhausted'
      dead_letter(key, KEYS[3], id, f[8], reason, failures, err, now,
        appended(written_out(f[9], key), 'dead', now, consumer, attempt, reason))
      bump(delta, 'jobs:dead', 1)
      bump(delta, 'dead_total', 1)
      emit(KEYS[5], ARGV[3], id, 'dead', now, 'worker', consumer, 'attempt', attempt,
        'reason', reason)
      out[i] = {2}
    else
      local due = now + tonumber(ARGV[o + 5])
      redis.call('HSET', key, 'status', 'scheduled', 'due_at', due, 'entry', '',
        'history', appended(written_out(f[9], key), 'scheduled', now, consumer, attempt,
          ARGV[o + 6]))
      redis.call('ZADD', KEYS[2], due, id)
      bump(delta, 'jobs:scheduled', 1)
      bump(delta, 'retried_total', 1)
      emit(KEYS[5], ARGV[3], id, 'scheduled', now, 'worker', consumer, 'attempt', attempt,
        'due_at', due, 'reason', ARGV[o + 6])
      out[i] = {1, due}
    end
  end
end

ack_and_delete(KEYS[1], group, finished)
flush(KEYS[4], delta)
return out
