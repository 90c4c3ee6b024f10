-- Atomic check-and-take over all token buckets of one request.
--
-- KEYS[i]       bucket i (hash {tokens, ts})
-- ARGV[1]       cost
-- ARGV[3i-1..]  capacity, refill tokens, refill period in ms of bucket i
--
-- Levels are computed in scaled units (tokens * period_ms): one elapsed millisecond adds exactly `refill`,
-- so the arithmetic is exact in Lua's doubles (the caller keeps capacity * period_ms < 2^53) and matches the
-- in-process store. The hash stores real tokens so a key whose period changed is still read correctly.
--
-- Returns {allowed (1|0), level_1, ..., level_n}: scaled levels after the take when allowed, else current.

-- Server time, so the clocks of several API replicas do not matter. Before Redis 5 a script that reads TIME
-- may only write under effects replication; later versions ignore this call.
if redis.replicate_commands then
  redis.replicate_commands()
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local cost = tonumber(ARGV[1])
local n = #KEYS
local levels = {}
local allowed = 1

for i = 1, n do
  local capacity = tonumber(ARGV[3 * i - 1])
  local refill = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local full = capacity * period
  local level = full
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens and ts then
    level = math.floor(tokens * period + 0.5)
    if level > full then level = full end
    if level < 0 then level = 0 end
    local elapsed = now - ts
    if elapsed < 0 then elapsed = 0 end
    -- Compare before adding: after a long idle time the product can exceed 2^53, where it is no longer
    -- exact, but then it is far above `full - level` anyway.
    if elapsed * refill >= full - level then
      level = full
    else
      level = level + elapsed * refill
    end
  end
  levels[i] = level
  if level < cost * period then allowed = 0 end
end

if allowed == 1 then
  for i = 1, n do
    local capacity = tonumber(ARGV[3 * i - 1])
    local refill = tonumber(ARGV[3 * i])
    local period = tonumber(ARGV[3 * i + 1])
    local level = levels[i] - cost * period
    levels[i] = level
    -- Explicit formats: Lua's default number-to-string conversion keeps 14 digits and may switch to
    -- exponent notation, which would lose precision and which PEXPIRE rejects.
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', level / period),
      'ts', string.format('%.0f', now))
    -- Expire once the bucket would be full again (plus a margin): a missing key reads as full.
    local ttl = math.ceil((capacity * period - level) / refill) + 1000
    redis.call('PEXPIRE', KEYS[i], string.format('%.0f', ttl))
  end
end

local reply = { allowed }
for i = 1, n do
  reply[i + 1] = levels[i]
end
return reply
