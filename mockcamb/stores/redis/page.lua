-- RedisStore.journal_page: journal.page of the list 'j' (newest first, so its seqs fall
-- along it), found by binary search instead of reading it all. ARGV: 1 prefix, 2 limit,
-- 3 after_seq, 4 before_seq ('' = none). Returns {more (0/1), entries oldest first...}.
local jk = P .. 'j'
local limit = tonumber(ARGV[2])
local n = redis.call('LLEN', jk)

local function seq_at(i)
  return tonumber(string.match(redis.call('LINDEX', jk, i), '^%d+ {"seq":(%d+)'))
end

-- the first index whose seq is below bound (n if none)
local function first_below(bound)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if seq_at(mid) < bound then hi = mid else lo = mid + 1 end
  end
  return lo
end

local from, to, more
if ARGV[3] ~= '' then  -- the oldest limit of those after after_seq: indexes [0, k)
  local k = first_below(tonumber(ARGV[3]) + 1)
  from, to, more = math.max(0, k - limit), k - 1, k > limit
else  -- the newest limit of those before before_seq (of all without it)
  local start = 0
  if ARGV[4] ~= '' then start = first_below(tonumber(ARGV[4])) end
  from, to, more = start, start + limit - 1, n - start > limit
end
local out = {more and 1 or 0}
if to >= from then
  local got = redis.call('LRANGE', jk, from, to)
  for i = #got, 1, -1 do out[#out + 1] = got[i] end
end
return out
