--[[
  read: hand this consumer up to `count` new entries, taking the priority levels in the order
  given (XREADGROUP per level with the count still open). Never blocks: when nothing is
  available the caller blocks on all four streams itself.

  KEYS[1..4] job streams, critical to low
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] count
  ARGV[4] the levels in the order to take them, e.g. '1234' (critical first) or '4123'

  Returns a flat array: level, entry id, job id for each entry handed out (an entry without an
    `id` field, which no DTQ writer produces, is handed out with job id '')
]]
local remaining = tonumber(ARGV[3])
local out = {}
for pos = 1, #ARGV[4] do
  if remaining <= 0 then break end
  local level = tonumber(string.sub(ARGV[4], pos, pos))
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', remaining,
    'STREAMS', KEYS[level], '>')
  if reply then
    for _, message in ipairs(reply[1][2]) do
      local fields = message[2]
      local id = ''
      for k = 1, #fields, 2 do
        if fields[k] == 'id' then id = fields[k + 1] end
      end
      out[#out + 1] = level
      out[#out + 1] = message[1]
      out[#out + 1] = id
      remaining = remaining - 1
    end
  end
end
return out
