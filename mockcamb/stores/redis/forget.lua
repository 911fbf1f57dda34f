-- RedisStore._gone: forget a task whose scenario is gone from Redis, unless it changed
-- meanwhile. ARGV: 1 prefix, 2 member, 3 the task's scenario id. Returns 1 if forgotten.
if redis.call('HGET', P .. 't:' .. ARGV[2], 'sc') ~= ARGV[3] then return 0 end
if redis.call('EXISTS', P .. 'sc:' .. ARGV[3]) == 1 then return 0 end
forget(ARGV[2])
return 1
