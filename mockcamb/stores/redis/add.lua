-- Emulator.create_task / create: MemoryStore.add. ARGV: 1 prefix, 2 member, 3 scenario id,
-- 4 seed key, 5 max_tasks, 6 finished_ttl ('' = none). Returns {0} (exists) | {1, now}.
if redis.call('EXISTS', P .. 't:' .. ARGV[2]) == 1 then return {0} end
local now = clock_now()
insert(ARGV[2], ARGV[3], ARGV[4], now, tonumber(ARGV[5]), ARGV[6])
return {1, fmt(now)}
