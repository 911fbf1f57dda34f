-- MemoryStore.record: number and append a journal.entry. ARGV: 1 prefix, 2 journal size,
-- 3 the entry's JSON without its leading '{"seq":N,'. Returns the entry's seq.
local seq = redis.call('INCR', P .. 'j:seq')
redis.call('LPUSH', P .. 'j', '{"seq":' .. seq .. ',' .. ARGV[3])
redis.call('LTRIM', P .. 'j', 0, tonumber(ARGV[2]) - 1)
return seq
