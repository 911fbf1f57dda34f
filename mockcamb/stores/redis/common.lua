-- Shared by every script (loaded before it). Keys and fields: mockcamb/stores/redis/scripts.py.
-- ARGV[1] is always the key prefix.
local P = ARGV[1]

-- A float as Python's repr would read it back: 17 significant digits, always with a '.'.
local function fmt(x)
  local s = string.format('%.17g', x)
  if not string.find(s, '[%.eEn]') then s = s .. '.0' end
  return s
end

-- The shared clock (RedisClock): the manual offset, or Redis server time since the origin,
-- times the scale, plus the offset.
local function clock_now()
  local c = redis.call('HMGET', P .. 'clock', 'kind', 'scale', 'origin', 'offset')
  local off = tonumber(c[4]) or 0
  if c[1] == 'real' then
    local t = redis.call('TIME')
    local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
    return (wall - (tonumber(c[3]) or wall)) * (tonumber(c[2]) or 1) + off
  end
  return off
end

-- MemoryStore._forget: drop a task, its history, and its places in the indexes.
local function forget(member)
  local tk = P .. 't:' .. member
  local ri = redis.call('HGET', tk, 'ri')
  if ri and redis.call('HGET', P .. 'runs', ri) == member then
    redis.call('HDEL', P .. 'runs', ri)
  end
  redis.call('DEL', tk, P .. 'h:' .. member)
  redis.call('ZREM', P .. 'tasks', member)
  redis.call('ZREM', P .. 'fin', member)
end

-- MemoryStore._expire: forget finished tasks in the order they finished, while their
-- finished_ttl is up ('' = no ttl).
local function expire(now, ttl)
  if ttl == '' then return end
  ttl = tonumber(ttl)
  while true do
    local first = redis.call('ZRANGE', P .. 'fin', 0, 0)
    if #first == 0 then return end
    local fa = tonumber(redis.call('HGET', P .. 't:' .. first[1], 'fa'))
    if fa and now - fa < ttl then return end
    forget(first[1])
  end
end

-- MemoryStore._insert (with machine.new_task's fields): expire, evict the first finished
-- task (else the oldest) while at max_tasks, then add the task before its first poll.
local function insert(member, sc, sk, now, max_tasks, ttl)
  expire(now, ttl)
  while redis.call('ZCARD', P .. 'tasks') >= max_tasks do
    local victim = redis.call('ZRANGE', P .. 'fin', 0, 0)
    if #victim == 0 then victim = redis.call('ZRANGE', P .. 'tasks', 0, 0) end
    forget(victim[1])
  end
  local n = fmt(now)
  redis.call('HSET', P .. 't:' .. member, 'sc', sc, 'sk', sk, 'ca', n, 'st', 0, 'ss', n,
             'sp', 0, 'rq', 0, 'an', 0)
  redis.call('ZADD', P .. 'tasks', redis.call('INCR', P .. 'ctr:order'), member)
end

-- MemoryStore._trim_journal: drop the oldest journal entries while there are more than
-- size or they cost more than budget bytes. Each entry of the list 'j' is stored after its
-- cost (journal.entry_bytes) and a space; 'j:bytes' is their sum.
local function journal_trim(size, budget)
  local jk, bk = P .. 'j', P .. 'j:bytes'
  if size <= 0 then redis.call('DEL', jk, bk) return end
  local n = redis.call('LLEN', jk)
  local bytes = tonumber(redis.call('GET', bk) or '0')
  while n > 0 and (n > size or bytes > budget) do
    bytes = bytes - tonumber(string.match(redis.call('RPOP', jk), '^%d+'))
    n = n - 1
  end
  if n == 0 then bytes = 0 end
  redis.call('SET', bk, bytes)
end

-- MemoryStore.record: append an entry (JSON text) of the given cost, then trim.
local function journal_push(entry, cost, size, budget)
  redis.call('LPUSH', P .. 'j', cost .. ' ' .. entry)
  redis.call('INCRBY', P .. 'j:bytes', cost)
  journal_trim(size, budget)
end
