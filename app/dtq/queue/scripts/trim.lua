#!lua flags=allow-oom
--[[
  trim: drop acknowledged entries from the job streams. Transitions only acknowledge entries
  (XACK); this script trims, per stream, everything below the horizon: the oldest entry still
  pending (delivered, not acknowledged), or else the first entry not yet delivered to the group.
  Everything below it is delivered and acknowledged, so no work is ever trimmed (invariant 6).

  KEYS[1..4] job streams, critical to low
  ARGV[1] consumer group

  Returns the number of entries trimmed.
]]
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end

local trimmed = 0
for _, stream in ipairs(KEYS) do
  if redis.call('EXISTS', stream) == 1 then
    local last_delivered
    for _, group in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      for k = 1, #group, 2 do
        if group[k] == 'name' and group[k + 1] ~= ARGV[1] then break end
        if group[k] == 'last-delivered-id' then last_delivered = group[k + 1] end
      end
    end
    if last_delivered then
      local ms, seq = parse(last_delivered)
      local horizon = string.format('%d-%d', ms, seq + 1)
      local pending = redis.call('XPENDING', stream, ARGV[1])
      if pending[1] > 0 then
        local pms, pseq = parse(pending[2])
        if pms < ms or (pms == ms and pseq <= seq) then horizon = pending[2] end
      end
      trimmed = trimmed + redis.call('XTRIM', stream, 'MINID', horizon)
    end
  end
end
return trimmed
