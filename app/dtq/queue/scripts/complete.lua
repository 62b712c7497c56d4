#!lua flags=allow-oom
--[[
  complete: record successful attempts, acknowledge their stream entries (a shared one only
  with the last of its jobs on its worker: the worker says which, by the level's sign).

  Fenced: each job must still be running under the given consumer and attempt; a stale owner
  (a zombie whose job was reclaimed) is refused and changes nothing. A job that others wait on
  goes to the dependency outbox, from which release.lua lets its dependents go. A job with a
  partition key leaves its key's line, letting the next one go.

  Succeeded jobs are kept by retention (_lib.lua's retain): the queue's count and age, or a job's
  own `keep` seconds (0: removed at once); a job others wait on, until they are released.

  KEYS[1..4] job streams, critical to low   KEYS[5] stats   KEYS[6] events
  KEYS[7] dependency outbox   KEYS[8] lanes (zset)   KEYS[9] the queue's succeeded jobs (list)
  KEYS[10] retention policies (hash)   KEYS[11] job index (zset)   KEYS[12] tombstones (zset)
  KEYS[12+i] hash of job i
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] queue name   ARGV[4] events maxlen
  ARGV[5] n   ARGV[6..9] retention defaults (succeeded count, s, canceled count, s)
  ARGV[10] job key prefix   ARGV[11] most tombstones
  ARGV[12 + 5(i-1) ..] job i: job id, stream level (1-4; negated: leave
    the entry unacknowledged, other jobs of it still run), stream entry id, attempt, result (JSON;
    `null` is not stored: an absent result reads as None)

  Returns one code per job: C.SUCCEEDED (plus C.WITH_DEPENDENTS when jobs wait on it: release
    them), or C.STALE (another owner or attempt holds the job; nothing changed)
]]
local group, consumer, queue = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[5])
local FIRST_JOB_KEY, FIRST_JOB_ARG = 12, 11
local streams = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local stats, events, outbox = KEYS[5], KEYS[6], KEYS[7]
local now = now_ms()
local out = {}
local done = 0
local finished = {}
local ids, keeps = {}, {}
local freed = false
local slots = {}  -- running set -> ids of jobs that held a slot in it
local delta = {}

for i = 1, n do
  local o = FIRST_JOB_ARG + (i - 1) * 5
  local id, level, entry, attempt = ARGV[o + 1], tonumber(ARGV[o + 2]), ARGV[o + 3], ARGV[o + 4]
  local key = KEYS[FIRST_JOB_KEY + i]
  local f = redis.call('HMGET', key, 'status', 'worker', 'attempt', 'entry', 'history',
    'dependents', 'lane_slot', 'pk_line', 'started_at', 'keep')
  if f[1] ~= 'running' or f[2] ~= consumer or f[3] ~= attempt or f[4] ~= entry then
    out[i] = C.STALE
  else
    if f[5] and f[5] ~= '' then
      redis.call('HSET', key, 'history', appended(f[5], 'succeeded', now, consumer, attempt, ''))
    end
    local set = {'status', 'succeeded', 'finished_at', text(now), 'entry', ''}
    if ARGV[o + 5] ~= 'null' then  -- no result (None) is no field: ~12 bytes a job kept
      set[7], set[8] = 'result', ARGV[o + 5]
    end
    if f[7] and f[7] ~= '' then  -- it held a slot of its tenant's: given back below
      local at = #set
      set[at + 1], set[at + 2] = 'lane_slot', ''
      add_entry(slots, f[7], id)
      freed = true
    end
    redis.call('HSET', key, unpack(set))
    leave_line(key, id, f[8])
    if level > 0 then add_entry(finished, level, entry) end
    observe(delta, 'run', now - tonumber(f[9] or now))
    done = done + 1
    ids[done] = id
    keeps[done] = f[6] and true or f[10] or false  -- a job others wait on stays for release.lua
    out[i] = C.SUCCEEDED
    if f[6] then
      notify_dependents(outbox, id, now)
      out[i] = C.SUCCEEDED + C.WITH_DEPENDENTS
    end
  end
end

if freed then
  free_slots(slots)
  wake_lanes(KEYS[8], KEYS[3])
end
if done > 0 then
  retain({retention = KEYS[10], finished = KEYS[9], job_prefix = ARGV[10], index = KEYS[11],
          gone = KEYS[12], gone_max = tonumber(ARGV[11]), defaults = retention_defaults(6)},
         queue, 'succeeded', ids, keeps, now)
  ack_by_level(streams, group, finished)
  emit_ids(events, ARGV[4], ids, 'succeeded', now, 'worker', consumer)
  redis.call('HINCRBY', stats, 'jobs:running', -done)
  redis.call('HINCRBY', stats, running_field(KEYS[3]), -done)
  redis.call('HINCRBY', stats, 'jobs:succeeded', done)
  redis.call('HINCRBY', stats, 'completed_total', done)
  flush(stats, delta)
end
return out
