#!lua flags=allow-oom
--[[
  release: settle the dependents of one finished parent taken from the dependency outbox.

  Parent succeeded: each waiting child has one parent fewer to wait on; a child with none left
  becomes pending on its queue's stream of its level (or scheduled, if its own due time is still ahead).
  Parent dead or canceled: each waiting child is canceled with reason `dependency_failed` (and
  kept by its queue's retention, as any canceled job), and a child that others wait on goes to
  the outbox in turn (the caller releases it next).
  Parent anything else (retried from the DLQ meanwhile): nothing to do until it finishes again.
  The parent leaves the outbox and its children set is deleted, so a second call is a no-op.
  A succeeded parent then goes by its own keep, put off while they waited (_lib.lua's retain):
  keep_result false removes it now, keep_for_s counts from its finish.

  KEYS[1] dependency outbox   KEYS[2] delayed (zset)   KEYS[3] stats   KEYS[4] events
  KEYS[5] parent hash   KEYS[6] parent's children set
  KEYS[6+j] hash of child j (a child with a lane goes to its lane)
  KEYS[7+m] retention policies (hash)   KEYS[8+m] job index (zset)   KEYS[9+m] tombstones (zset)
  ARGV[1] events maxlen   ARGV[2] retention (_lib.lua's retention_config)   ARGV[3] parent id
  ARGV[4] m
  ARGV[5] the shard's key base   ARGV[6] the stream name
  ARGV[6+j] id of child j: the members of the children set as the caller read them

  Returns {C.DONE, released (pending or scheduled now), canceled, ids of canceled children that
    have dependents themselves...}, or {C.CHILDREN_CHANGED}: the children set changed since the
    caller read it (nothing changed; read it again)
]]
local outbox, delayed, stats, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local parent_key, children = KEYS[5], KEYS[6]
local parent, m = ARGV[3], tonumber(ARGV[4])
local base, stream_name = ARGV[5], ARGV[6]
local C0, A0 = 6, 6  -- child j: KEYS[C0 + j], ARGV[A0 + j]
if redis.call('SCARD', children) ~= m then return {C.CHILDREN_CHANGED} end
for j = 1, m do
  if redis.call('SISMEMBER', children, ARGV[A0 + j]) == 0 then return {C.CHILDREN_CHANGED} end
end

local status = redis.call('HGET', parent_key, 'status')
local now = now_ms()
local released, canceled, cascade = {}, {}, {}
local scheduled = 0
if status == 'succeeded' then
  for j = 1, m do
    local key, id = KEYS[C0 + j], ARGV[A0 + j]
    local f = redis.call('HMGET', key, 'status', 'deps_left', 'due_at', 'priority', 'history',
      'lane', 'queue')
    if f[1] == 'waiting' then
      local left = tonumber(f[2]) - 1
      if left > 0 then
        redis.call('HSET', key, 'deps_left', left)
      else
        redis.call('HDEL', key, 'deps_left')
        local due = tonumber(f[3] or '0')
        if due > now then
          redis.call('HSET', key, 'status', 'scheduled',
            'history', appended(f[5], 'scheduled', now, '', '', 'dependencies_met'))
          redis.call('ZADD', delayed, due, id)
          scheduled = scheduled + 1
        else
          local entry = ''
          local q = queue_keys(base, stream_name, f[7])
          if f[6] then
            lane_push(q.lanes, f[6], level_of(f[4]), id, {})
            ring(q.lanes, q.streams[3])
          else
            entry = redis.call('XADD', q.streams[level_of(f[4])], '*', 'id', id)
          end
          redis.call('HSET', key, 'status', 'pending', 'entry', entry, 'ready_at', now,
            'history', appended(f[5], 'pending', now, '', '', 'dependencies_met'))
          released[#released + 1] = id
        end
      end
    end
  end
  if #released > 0 then
    emit_ids(events, ARGV[1], released, 'pending', now,
      'reason', 'dependencies_met')
    redis.call('HINCRBY', stats, 'jobs:pending', #released)
  end
  if scheduled > 0 then redis.call('HINCRBY', stats, 'jobs:scheduled', scheduled) end
  if #released + scheduled > 0 then
    redis.call('HINCRBY', stats, 'jobs:waiting', -(#released + scheduled))
  end
elseif status == 'dead' or status == 'canceled' then
  local by_queue, waited_on = {}, {}
  for j = 1, m do
    local key, id = KEYS[C0 + j], ARGV[A0 + j]
    local f = redis.call('HMGET', key, 'status', 'history', 'dependents', 'pk_line', 'queue')
    if f[1] == 'waiting' then
      cancel_for_dependency(key, now, f[2], parent)
      leave_line(key, id, f[4])
      canceled[#canceled + 1] = id
      add_entry(by_queue, f[5] or '', id)
      if f[3] then
        notify_dependents(outbox, id, now)
        cascade[#cascade + 1] = id
        waited_on[id] = true
      end
    end
  end
  if #canceled > 0 then
    retain_canceled(by_queue, waited_on, retention_config(ARGV[2]), KEYS[C0 + m + 1],
      KEYS[C0 + m + 2], KEYS[C0 + m + 3], base, stream_name, now)
    emit_ids(events, ARGV[1], canceled, 'canceled', now,
      'reason', 'dependency_failed', 'parent', parent)
    redis.call('HINCRBY', stats, 'jobs:waiting', -#canceled)
    redis.call('HINCRBY', stats, 'jobs:canceled', #canceled)
  end
else
  redis.call('ZREM', outbox, parent)
  return {C.DONE, 0, 0}
end

redis.call('ZREM', outbox, parent)
redis.call('DEL', children)
redis.call('HDEL', parent_key, 'dependents')
if status == 'succeeded' then keep_own(parent_key, parent, ARGV[2], KEYS[C0 + m + 2],
  KEYS[C0 + m + 3], now) end
local out = {C.DONE, #released + scheduled, #canceled}
for _, id in ipairs(cascade) do out[#out + 1] = id end
return out
