-- RedisClock. ARGV: 1 prefix, 2 'now' | 'advance' | 'reset' | 'init', 3 seconds (advance) or
-- kind (init), 4 scale (init). Returns the clock's time after the operation.
local op = ARGV[2]
local ck = P .. 'clock'
if op == 'advance' then
  local off = tonumber(redis.call('HGET', ck, 'offset')) or 0
  redis.call('HSET', ck, 'offset', fmt(off + tonumber(ARGV[3])))
elseif op == 'reset' or op == 'init' then
  local t = redis.call('TIME')
  local wall = fmt(tonumber(t[1]) + tonumber(t[2]) / 1000000)
  if op == 'init' then
    redis.call('HSET', ck, 'kind', ARGV[3], 'scale', ARGV[4])
    redis.call('HSETNX', ck, 'origin', wall)
    redis.call('HSETNX', ck, 'offset', '0')
  else
    redis.call('HSET', ck, 'origin', wall, 'offset', '0')
  end
end
return fmt(clock_now())
