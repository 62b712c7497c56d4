#!lua flags=allow-oom
--[[
  ensure_groups: create each job stream and its consumer group where missing, reading from the
  start of the stream (jobs submitted before any worker listened are read too). A script, and
  allowed when Redis is full: XGROUP CREATE alone is refused then, even for a group that
  exists, and a worker must be able to start and drain a full Redis.

  KEYS[1..n] job streams   ARGV[1] consumer group

  Returns the number of groups created
]]
local created = 0
for _, stream in ipairs(KEYS) do
  local ok = pcall(redis.call, 'XGROUP', 'CREATE', stream, ARGV[1], '0', 'MKSTREAM')
  if ok then created = created + 1 end
end
return created
