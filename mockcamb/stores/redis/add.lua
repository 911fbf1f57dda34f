-- Emulator.create_task / create: MemoryStore.add. ARGV: 1 prefix, 2 member, 3 scenario id,
-- 4 seed key, 5 max_tasks, 6 finished_ttl ('' = none). Returns {0} (exists) | {1, now}
-- | {2} (no sc:<sid>: the store was reset or lost since the caller stored the scenario).
if redis.call('EXISTS', P .. 't:' .. ARGV[2]) == 1 then return {0} end
if redis.call('EXISTS', P .. 'sc:' .. ARGV[3]) == 0 then return {2} end
local now = clock_now()
insert(ARGV[2], ARGV[3], ARGV[4], now, tonumber(ARGV[5]), ARGV[6])
return {1, fmt(now)}
