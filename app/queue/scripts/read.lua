--[[
  read: hand this consumer up to `count` new entries, taking the priority levels in the order
  given (XREADGROUP per level with the count still open). Never blocks: when nothing is
  available the caller blocks on all four streams itself.

  KEYS[1..4] job streams, critical to low
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] count
  ARGV[4] the levels in the order to take them, e.g. '1234' (critical first) or '4123'

  Returns one {level, entry ids, job ids} triple per level that handed out entries; the ids are
    comma-separated, in stream order (one string each: far cheaper to return than many)
]]
local remaining = tonumber(ARGV[3])
local out = {}
for pos = 1, #ARGV[4] do
  if remaining <= 0 then break end
  local level = tonumber(string.sub(ARGV[4], pos, pos))
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', remaining,
    'STREAMS', KEYS[level], '>')
  if reply then
    local messages = reply[1][2]
    local entries, ids = {}, {}
    for i, message in ipairs(messages) do
      entries[i] = message[1]
      ids[i] = message[2][2] or ''
    end
    out[#out + 1] = {level, table.concat(entries, ','), table.concat(ids, ',')}
    remaining = remaining - #messages
  end
end
return out
