#!lua flags=allow-oom
--[[
  purge_queue: cancel up to `limit` of a queue's jobs that wait for a worker, reason `purged`:
  those behind the entries of its streams that no worker has read, in its tenants' lanes, or
  held while it is paused. Jobs a worker has taken are left to finish. A purged job is kept by
  the queue's retention of canceled jobs; one that others wait on goes to the dependency outbox
  (its dependents are then canceled). The stream entries looked at are marked read for the group (XGROUP
  SETID), so that workers skip them and trim.lua drops them (deleted, when the stream has no
  group yet).

  KEYS[1..4] the queue's job streams, critical to low   KEYS[5] its lanes (zset)
  KEYS[6] its held list   KEYS[7] stats   KEYS[8] events   KEYS[9] dependency outbox
  KEYS[10] its canceled jobs (list)   KEYS[11] retention policies (hash)   KEYS[12] job index
  KEYS[13] tombstones (zset)
  ARGV[1] consumer group   ARGV[2] limit   ARGV[3] the prefix of job hash names
  ARGV[4] queue name   ARGV[5] events maxlen   ARGV[6..9] retention defaults
  ARGV[10] most tombstones

  Returns {purged, looked_at}: call again while looked_at > 0.
]]
local group, limit, jobs = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local lanes, held, stats, events, outbox = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now = now_ms()
local purged, keeps, looked = {}, {}, 0

local function purge(id, entry, tenant)
  local key = keyname.job(jobs, id)
  local f = redis.call('HMGET', key, 'status', 'entry', 'history', 'dependents', 'lane_slot',
    'lane', 'pk_line')
  -- (a tenant's job on a stream has its entry recorded by start.lua only: see read.lua)
  local adopted = entry ~= '' and (f[2] or '') == '' and f[6] ~= nil
  if f[1] ~= 'pending' or ((f[2] or '') ~= entry and not adopted) then return end
  if tenant and f[6] ~= tenant then return end
  redis.call('HSET', key, 'status', 'canceled', 'cancel_reason', 'purged', 'finished_at', now,
    'entry', '', 'history', appended(f[3], 'canceled', now, '', '', 'purged'))
  if adopted then  -- the slot read.lua took for it
    redis.call('SREM', keyname.running(lanes, tenant_of(id)), id)
  else
    free_slot(key, id, f[5])
  end
  leave_line(key, id, f[7])
  if f[4] then notify_dependents(outbox, id, now) end
  purged[#purged + 1] = id
  keeps[#purged] = f[4] and true or false  -- a job others wait on stays for release.lua
end

-- Stream entries no worker has read: after the group's last delivered id.
for level = 1, 4 do
  local stream = KEYS[level]
  if looked < limit and redis.call('EXISTS', stream) == 1 then
    local last, read, found = '0-0', nil, false
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local row = {}
      for j = 1, #g, 2 do row[g[j]] = g[j + 1] end
      if row['name'] == group then
        last, read, found = row['last-delivered-id'], row['entries-read'], true
      end
    end
    local entries = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', limit - looked)
    for _, message in ipairs(entries) do
      local fields = message[2]
      if fields[1] == 'id' then
        purge(fields[2], message[1], nil)
      elseif fields[1] == 'ids' then  -- a tenant's run, dispatched as one entry (read.lua)
        for id in string.gmatch(fields[2], '[^,]+') do purge(id, message[1], nil) end
      end
    end
    if #entries > 0 then
      looked = looked + #entries
      local newest = entries[#entries][1]
      if not found then  -- no worker ever listened: nothing to skip them, so they go
        for _, message in ipairs(entries) do redis.call('XDEL', stream, message[1]) end
      elseif type(read) == 'number' then
        redis.call('XGROUP', 'SETID', stream, group, newest, 'ENTRIESREAD', read + #entries)
      else
        redis.call('XGROUP', 'SETID', stream, group, newest)
      end
    end
  end
end

-- Tenants' lanes, then the held list.
for _, tenant in ipairs(redis.call('ZRANGE', lanes, 0, -1)) do
  local left = 0
  for level = 1, 4 do
    local list = keyname.lane(lanes, tenant, level)
    while looked < limit do
      local id = redis.call('LPOP', list)
      if not id then break end
      looked = looked + 1
      purge(id, '', tenant)
    end
    left = left + redis.call('LLEN', list)
  end
  if left == 0 then redis.call('ZREM', lanes, tenant) end
end
while looked < limit do
  local id = redis.call('LPOP', held)
  if not id then break end
  looked = looked + 1
  purge(id, '', nil)
end

if #purged > 0 then
  retain({retention = KEYS[11], finished = KEYS[10], job_prefix = jobs, index = KEYS[12],
          gone = KEYS[13], gone_max = tonumber(ARGV[10]), defaults = retention_defaults(6)},
         ARGV[4], 'canceled', purged, keeps, now)
  redis.call('HINCRBY', stats, 'jobs:pending', -#purged)
  redis.call('HINCRBY', stats, 'jobs:canceled', #purged)
  emit_ids(events, ARGV[5], purged, 'canceled', now, 'reason', 'purged')
end
return {#purged, looked}
