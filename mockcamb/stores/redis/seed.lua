-- RedisStore._reseed, _load and _back: the store was found lost, or is back from an outage.
-- ARGV: 1 prefix, 2 'seed' | 'note' | 'floor', 3 salt, 4 epoch, 5 settings JSON, 6 clock kind, 7 clock scale,
-- 8 clock value, 9 and 10 the last generated task number and run id counter seen, 11 the
-- first settings version (random, see store._version_base).
-- 'seed' (settings:v is gone: Redis came back empty): unless another process seeded it
-- first, write this process's salt (if none is there), a new epoch, its settings and its
-- clock (continuing from the value given), and count the loss in 'lost'.
-- 'note' (the epoch is not the caller's: another process started on an empty store):
-- count the loss once per epoch. 'floor' (Redis is back, maybe from an older snapshot):
-- nothing more than this. All three: ctr:created and ctr:run are raised to at least the
-- values given, so that new tasks never take the ids or run ids of tasks that were lost.
-- Returns {seeded 0|1, salt, epoch, settings version, losses, lost at, clock at loss}.
local function answer(seeded)
  local lost = redis.call('HMGET', P .. 'lost', 'count', 'at', 'clock')
  return {seeded, redis.call('GET', P .. 'salt') or '', redis.call('GET', P .. 'epoch') or '',
          redis.call('GET', P .. 'settings:v') or '', lost[1] or '0', lost[2] or '',
          lost[3] or ''}
end
for i, name in ipairs({'ctr:created', 'ctr:run'}) do
  local floor = tonumber(ARGV[8 + i]) or 0
  if (tonumber(redis.call('GET', P .. name)) or 0) < floor then
    redis.call('SET', P .. name, floor)
  end
end
if ARGV[2] == 'floor' then return answer(0) end
local t = redis.call('TIME')
local wall = fmt(tonumber(t[1]) + tonumber(t[2]) / 1000000)
if ARGV[2] == 'note' then
  local epoch = redis.call('GET', P .. 'epoch')
  if epoch and redis.call('HGET', P .. 'lost', 'epoch') ~= epoch then
    redis.call('HINCRBY', P .. 'lost', 'count', 1)
    redis.call('HSET', P .. 'lost', 'at', wall, 'epoch', epoch)
    redis.call('HDEL', P .. 'lost', 'clock')
  end
  return answer(0)
end
if redis.call('EXISTS', P .. 'settings:v') == 1 then return answer(0) end
redis.call('SET', P .. 'salt', ARGV[3], 'NX')
if redis.call('GET', P .. 'salt') ~= ARGV[3] then return answer(0) end
redis.call('SET', P .. 'epoch', ARGV[4])
redis.call('SET', P .. 'settings', ARGV[5])
redis.call('SET', P .. 'settings:v', ARGV[11])
redis.call('INCR', P .. 'settings:v')
redis.call('HSET', P .. 'clock', 'kind', ARGV[6], 'scale', ARGV[7], 'origin', wall,
           'offset', ARGV[8])
redis.call('HINCRBY', P .. 'lost', 'count', 1)
redis.call('HSET', P .. 'lost', 'at', wall, 'epoch', ARGV[4], 'clock', ARGV[8])
return answer(1)
