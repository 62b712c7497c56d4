#!lua flags=no-writes
--[[
  key_lookup: an API key's record and its tenant's definition, in one round trip (read only).
  The caller compares the key's hash itself, in constant time.

  KEYS[1] API keys (hash: key id -> record JSON)   KEYS[2] tenants (hash: name -> JSON)
  ARGV[1] key id

  Returns {record or false, tenant definition or false}
]]
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return {false, false} end
local tenant = cjson.decode(record).tenant
return {record, redis.call('HGET', KEYS[2], tenant)}
