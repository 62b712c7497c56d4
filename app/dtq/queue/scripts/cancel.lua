#!lua flags=allow-oom
--[[
  cancel: cancel a waiting, pending, scheduled or running job. The cancel is durable: it is
  recorded on the job, so no start, completion or retry happens after it, whatever restarts in
  between.

  A pending job's stream entry is deleted at once unless a worker has it in hand (that worker's
  start script then sees `canceled` and acks it). A running job's own entry is acked here (a
  shared one by its worker), and the job id is published on the cancel channel so that its
  worker stops the handler at once; its late completion, if any, is refused by fencing. A
  canceled job is kept by its queue's retention (_lib.lua's retain). A job that others wait on
  goes to the dependency outbox, from which release.lua cancels its dependents.

  KEYS[1] job hash   KEYS[2] delayed (zset)   KEYS[3] stats   KEYS[4] events
  KEYS[5] dependency outbox   KEYS[6] retention policies (hash)   KEYS[7] job index (zset)
  KEYS[8] tombstones (zset)
  ARGV[1] consumer group   ARGV[2] job id   ARGV[3] job key prefix   ARGV[4] events maxlen
  ARGV[5] cancel channel   ARGV[6] the shard's key base   ARGV[7] the stream name
  ARGV[8..11] retention defaults   ARGV[12] most tombstones

  Returns {C.CANCELED (plus C.WITH_DEPENDENTS when jobs wait on it: release them, to be
    canceled), the job's fields as canceled (HGETALL: retention may remove it right after)}
  Errors  C.NOT_FOUND no such job
          {C.WRONG_STATUS, status} the job is finished
]]
local f = redis.call('HMGET', KEYS[1], 'status', 'entry', 'worker', 'attempt', 'history',
  'priority', 'dependents', 'lane_slot', 'queue', 'pk_line')
local status, entry = f[1], f[2]
if not status then return C.NOT_FOUND end
if status ~= 'pending' and status ~= 'scheduled' and status ~= 'running'
    and status ~= 'waiting' then
  return {C.WRONG_STATUS, status}
end

local now = now_ms()
local q = queue_keys(ARGV[6], ARGV[7], f[9])
local stream = q.streams[level_of(f[6])]
if status == 'scheduled' then
  redis.call('ZREM', KEYS[2], ARGV[2])
elseif status == 'running' then
  -- a shared entry (a tenant's run, see read.lua) is acked by its worker once none of its jobs
  -- runs there
  if not shared_entry(stream, entry) then redis.call('XACK', stream, ARGV[1], entry) end
  redis.call('PUBLISH', ARGV[5], ARGV[2])
elseif status == 'pending' and entry and entry ~= '' then
  local delivered = redis.call('XPENDING', stream, ARGV[1], entry, entry, 1)
  if #delivered == 0 then redis.call('XDEL', stream, entry) end
end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'cancel_reason', 'requested',
  'finished_at', now, 'entry', '',
  'history', appended(written_out(f[5], KEYS[1]), 'canceled', now, f[3], f[4] or '0',
    'was ' .. status))
redis.call('HDEL', KEYS[1], 'deps_left')
leave_line(KEYS[1], ARGV[2], f[10])
if free_slot(KEYS[1], ARGV[2], f[8]) then wake_lanes(q.lanes, q.streams[3]) end
redis.call('HINCRBY', KEYS[3], 'jobs:' .. status, -1)
if status == 'running' then redis.call('HINCRBY', KEYS[3], running_field(q.streams[3]), -1) end
redis.call('HINCRBY', KEYS[3], 'jobs:canceled', 1)
emit(KEYS[4], ARGV[4], ARGV[2], 'canceled', now, 'was', status, 'worker', f[3] or '')
if f[7] then
  notify_dependents(KEYS[5], ARGV[2], now)
end
local record = redis.call('HGETALL', KEYS[1])
retain({retention = KEYS[6], finished = keyname.finished(q.root, 'canceled'),
        job_prefix = ARGV[3], index = KEYS[7], gone = KEYS[8], gone_max = tonumber(ARGV[12]),
        defaults = retention_defaults(8)},
       f[9], 'canceled', {ARGV[2]}, {f[7] and true or false}, now)
if f[7] then return {C.CANCELED + C.WITH_DEPENDENTS, record} end
return {C.CANCELED, record}
