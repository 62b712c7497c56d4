#!lua
--[[
  history: append one sample of the counters to each history stream whose current step has none.

  Every API process calls this every few seconds; the first call in a step writes, the others
  find the step taken and change nothing. A sample is the whole stats hash (cumulative counters
  and latency histograms, so rates and percentiles of any span are differences of two samples)
  and the gauges the caller measured. Entry ids are Redis time: readers select spans by id.

  KEYS[1] stats   KEYS[2] fine history stream   KEYS[3] coarse history stream
  ARGV[1] fine step (ms)   ARGV[2] fine length   ARGV[3] coarse step (ms)   ARGV[4] coarse length
  ARGV[5] gauges (JSON)

  Returns how many streams got a sample (0-2).
]]
local now = now_ms()
local written = 0
local counters = nil
for s = 0, 1 do
  local stream, step, length = KEYS[2 + s], tonumber(ARGV[1 + 2 * s]), ARGV[2 + 2 * s]
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  local last_ms = last and tonumber(string.match(last[1], '^(%d+)')) or -1
  if math.floor(last_ms / step) < math.floor(now / step) then
    counters = counters or cjson.encode(redis.call('HGETALL', KEYS[1]))
    redis.call('XADD', stream, 'MAXLEN', '~', length, '*', 'counters', counters, 'gauges', ARGV[5])
    written = written + 1
  end
end
return written
