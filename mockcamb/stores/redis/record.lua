-- MemoryStore.record: number and append a journal.entry, then trim the journal to its
-- bounds. ARGV: 1 prefix, 2 journal size, 3 journal bytes, 4 the entry's cost
-- (journal.entry_bytes), 5 the entry's JSON without its leading '{"seq":N,' ('' = only trim,
-- as MemoryStore.set_settings does). Returns the entry's seq (0 if none).
local size, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[5] == '' then journal_trim(size, budget) return 0 end
local seq = redis.call('INCR', P .. 'j:seq')
journal_push('{"seq":' .. seq .. ',' .. ARGV[5], tonumber(ARGV[4]), size, budget)
return seq
