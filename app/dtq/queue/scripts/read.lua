#!lua flags=allow-oom
--[[
  read: hand this consumer up to `count` new entries of one queue, taking the priority levels in
  the order given (XREADGROUP per level with the count still open). Never blocks: when nothing
  is available the caller blocks on the streams itself. A paused queue hands out nothing.

  Lanes first (fair dispatch across tenants, see _lib.lua): while tenants have jobs waiting in
  their lanes, up to `count` of them are dispatched onto the streams, a run at a time from the
  tenant with the least virtual time (start-time fair queuing: each job dispatched adds
  1/weight to its tenant's). A tenant whose running set has reached its concurrency cap is
  skipped and earns no credit meanwhile. Within a tenant, levels are taken in the order given.
  A tenant's run goes onto its stream as one entry (`ids`: a shared entry, one XADD, pending
  entry and XACK for the run) while every live worker reads those (KEYS[8]), else as an entry
  per job (`id`, as is a run of one). The hashes stay untouched, and a capped tenant's jobs go
  into its running set (their slots; an uncapped tenant's jobs take none): start.lua drops a
  job canceled meanwhile, or records its entry and slot as it starts (the settle scripts free
  the slot). The consumer acks a shared entry once none of its jobs runs there
  (queue/shared_entries.py). When work is left for others, a bell wakes a blocked worker. Bell
  entries met here are acknowledged. While a tenant waits on its cap, `<lanes>:capped` is up,
  so that settles freeing a slot ring too.

  KEYS[1..4] the queue's job streams, critical to low   KEYS[5] its lanes (zset)
  KEYS[6] tenants (hash)   KEYS[7] the queue's pause flag
  KEYS[8] shared entries on (flag, see heartbeat.lua): runs go out as shared entries only while up
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] count
  ARGV[4] the levels in the order to take them, e.g. '1234' (critical first) or '4123'
  ARGV[5] the default concurrency cap (0: none)

  Returns {lanes, paused, triples...}: lanes is 1 when tenants had jobs waiting in lanes,
    paused 1 when the queue is paused (nothing else follows); then one
    {level, entry ids, job ids} triple per level that handed out entries; the ids are
    comma-separated, in stream order (one string each: far cheaper to return than many). A
    shared entry is `<entry id>*<k>`, followed by its k job ids. Entries are read until `count`
    jobs are: a shared entry read last may take it past `count`.
]]
local group, consumer, order = ARGV[1], ARGV[2], ARGV[4]
local remaining = tonumber(ARGV[3])
local lanes = KEYS[5]
local has_lanes = redis.call('EXISTS', lanes)
if redis.call('EXISTS', KEYS[7]) == 1 then return {has_lanes, 1} end
local work_left = false  -- dispatchable jobs stay in lanes after this read

-- Lists found empty in Redis by this call.
local drained = {}

if has_lanes == 1 and remaining > 0 then
  local runs = redis.call('EXISTS', KEYS[8]) == 1
  -- Tenants are loaded a page at a time, least virtual time first: a read looks further only
  -- while every tenant loaded is capped or drained. Ranks stay put until the write-back.
  local PAGE = 64
  local names, vt, cap, weight, running, slot, empty, old = {}, {}, {}, {}, {}, {}, {}, {}
  local function load(from)
    local rows = redis.call('ZRANGE', lanes, text(from), text(from + PAGE - 1), 'WITHSCORES')
    if #rows == 0 then return false end
    local asked = {}
    for j = 1, #rows, 2 do asked[#asked + 1] = rows[j] end
    local defs = redis.call('HMGET', KEYS[6], unpack(asked))
    for j, name in ipairs(asked) do
      local i = #names + 1
      names[i], vt[i], old[i] = name, tonumber(rows[2 * j]), tonumber(rows[2 * j])
      local ok, def = pcall(cjson.decode, defs[j] or '{}')
      if not ok or type(def) ~= 'table' then def = {} end
      cap[i] = tonumber(def.max_concurrency) or tonumber(ARGV[5])
      -- a spread tenant's cap is split evenly over its shards, rounded up
      local over = tonumber(def.spread_over) or 0
      if over > 1 then cap[i] = math.ceil(cap[i] / over) end
      weight[i] = tonumber(def.weight) or 1
      slot[i] = keyname.running(lanes, name)
      running[i] = cap[i] > 0 and redis.call('SCARD', slot[i]) or 0  -- counted against a cap
    end
    return #asked == PAGE
  end
  local function eligible(i)
    return not empty[i] and (cap[i] <= 0 or running[i] < cap[i])
  end
  local taken = {}  -- tenant's index -> ids dispatched

  -- Dispatch up to `want` jobs of tenant i waiting in its lanes (levels in the order given)
  -- onto the streams; how many it dispatched (a canceled one among them is dropped by
  -- start.lua, which reads each job's hash anyway).
  local function dispatch(i, want)
    local tenant, n = names[i], 0
    for pos = 1, #order do
      local level = tonumber(string.sub(order, pos, pos))
      local list = keyname.lane(lanes, tenant, level)
      local run = {}
      while n < want and not drained[list] do
        local ids = redis.call('LPOP', list, text(want - n))
        if not ids or #ids < want - n then drained[list] = true end
        for _, id in ipairs(ids or {}) do
          run[#run + 1] = id
          -- a capped tenant's job takes a slot (into its running set below, one SADD per
          -- tenant); an uncapped one's takes none: nothing would count it (workers report
          -- what runs, see Tenants.usages)
          if cap[i] > 0 then add_entry(taken, i, id) end
          n = n + 1
        end
      end
      -- The run goes onto the stream as one entry (one XADD, one pending entry and one XACK
      -- for all its jobs: a shared entry, `ids`) while every live worker reads those; else,
      -- and for a run of one, as an entry per job.
      if #run > 1 and runs then
        redis.call('XADD', KEYS[level], '*', 'ids', table.concat(run, ','))
      else
        for _, id in ipairs(run) do redis.call('XADD', KEYS[level], '*', 'id', id) end
      end
      if n >= want then break end
    end
    return n
  end

  -- Each turn dispatches a run from the tenant with the least virtual time: its weighted
  -- share of what this read has left to hand out, or more while it stays behind the next
  -- tenant (as many as one-at-a-time picks would give it), within its cap. Each job adds
  -- 1/weight to its tenant's virtual time, so the shares are those of picking job by job, give
  -- or take a job or two within a read.
  local more, from = load(0), 0
  local dispatched, floor = 0, nil
  while dispatched < remaining do
    local best, second, weights = nil, nil, 0
    for i = 1, #names do
      if eligible(i) then
        weights = weights + weight[i]
        if not best or vt[i] < vt[best] then
          best, second = i, best
        elseif not second or vt[i] < vt[second] then
          second = i
        end
      end
    end
    if not best then
      if not more then break end
      from = from + PAGE
      more = load(from)
    else
      local w = weight[best]
      local run = remaining - dispatched
      if cap[best] > 0 then run = math.min(run, cap[best] - running[best]) end
      if second then
        local behind = math.floor((vt[second] - vt[best]) * w) + 1
        local share = math.ceil((remaining - dispatched) * w / weights)
        run = math.min(run, math.max(share, behind))
      end
      local n = dispatch(best, run)
      if n < run then empty[best] = true end
      if n > 0 then
        running[best] = running[best] + n
        local last = vt[best] + (n - 1) / w  -- the virtual start of its last job
        if not floor or last > floor then floor = last end
        vt[best] = vt[best] + n / w
        dispatched = dispatched + n
      end
    end
  end
  for i, ids in pairs(taken) do
    for j = 1, #ids, 500 do redis.call('SADD', slot[i], unpack(ids, j, math.min(j + 499, #ids))) end
  end
  work_left = more
  local capped = false  -- a tenant loaded waits on its cap
  local gone, moved = {}, {}
  for i = 1, #names do
    if empty[i] then
      gone[#gone + 1] = names[i]
    else
      if eligible(i) then
        work_left = true
      else
        capped = true
        if floor and vt[i] < floor then vt[i] = floor end  -- no credit for the turns it missed
      end
      if vt[i] ~= old[i] then
        local whole = vt[i] == math.floor(vt[i]) and math.abs(vt[i]) < 2 ^ 53
        moved[#moved + 1], moved[#moved + 2] = whole and text(vt[i]) or vt[i], names[i]
      end
    end
  end
  for j = 1, #gone, 500 do redis.call('ZREM', lanes, unpack(gone, j, math.min(j + 499, #gone))) end
  for j = 1, #moved, 1000 do
    redis.call('ZADD', lanes, unpack(moved, j, math.min(j + 999, #moved)))
  end
  -- Settles ring for capped tenants (wake_lanes) while the flag is up. Down only when every
  -- tenant was loaded: one on a page not read may be waiting on its cap.
  if capped then
    redis.call('SET', keyname.capped(lanes), 1)
  elseif not more then
    redis.call('DEL', keyname.capped(lanes))
  end
end

local out = {has_lanes, 0}
local bells = {}
for pos = 1, #order do
  if remaining <= 0 then break end
  local level = tonumber(string.sub(order, pos, pos))
  local entries, ids = {}, {}
  local rung = true
  while rung and remaining > 0 do  -- read past bells: they take no part of the count
    rung = false
    local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', remaining,
      'STREAMS', KEYS[level], '>')
    for _, message in ipairs(reply and reply[1][2] or {}) do
      local field = message[2] and message[2][1]
      if field == 'bell' then
        add_entry(bells, level, message[1])
        rung = true
      elseif field == 'ids' then  -- a shared entry: its jobs count, not the entry
        local run = message[2][2]
        local k = 1
        for _ in string.gmatch(run, ',') do k = k + 1 end
        entries[#entries + 1] = message[1] .. '*' .. k
        ids[#ids + 1] = run
        remaining = remaining - k
      else
        entries[#entries + 1] = message[1]
        ids[#ids + 1] = message[2] and message[2][2] or ''
        remaining = remaining - 1
      end
    end
  end
  if #entries > 0 then
    out[#out + 1] = {level, table.concat(entries, ','), table.concat(ids, ',')}
  end
end
if next(bells) then
  ack_by_level(KEYS, group, bells)
  take_bell(lanes, bells)
end
if work_left then ring(lanes, KEYS[3]) end  -- after the reads above, which would take it
return out
