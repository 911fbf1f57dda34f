-- One status poll, atomic on the server: mockcamb.core.machine.poll applied to the task's
-- hash as MemoryStore.poll applies it, and the request's journal entry written in the same
-- step (mockcamb.core.journal.entry). Each rule names the Python it mirrors; the two are
-- held to the same answers by tests/test_store_differential.py.
--
-- ARGV, in the order of scripts.POLL_ARGV (the first eleven change only with the settings):
local prefix, version, max_tasks, ttl, history_limit, global_faults, global_prob,
  journal_size, journal_bytes, global_delay, first_run_id,
  member, auto_sid, auto_seed, journal_head, journal_tail, journal_cost,
  phase, answer_n, answer_now, answer_code, answer_type = unpack(ARGV)
-- Returns {'STALE'} | {'NONE'} | {'NOSC'} | {'NOPLAN', sc} | {'BEGIN', n, now, sc, sk, ca}
--       | {'OK', n, now, step, run_id, fault_source, fault_index, sc, sk, ca, journaled}
--       | {'VIEW'} (phase 'view': RedisStore.fresh, machine.settle only, not counted)

-- A plan's step and fault (scripts.plan)
local POLLS, SECONDS, FINAL, SUCCESS, RUN_ID, STATUS = 1, 2, 3, 4, 5, 6
local F_POLLS, F_CODE, F_TYPE, F_WINDOWS = 1, 2, 3, 4
local FIELDS = {'sc', 'sk', 'ca', 'st', 'ss', 'sp', 'an', 'ri', 'fa'}  -- scripts.TASK_FIELDS

if redis.call('GET', P .. 'settings:v') ~= version then return {'STALE'} end
local tk = P .. 't:' .. member
local answer = phase == 'answer'
local view = phase == 'view'
local now
if answer then now = tonumber(answer_now) else now = clock_now() end
local t = redis.call('HMGET', tk, unpack(FIELDS))
-- MemoryStore.poll: a missing task is created with machine.created_with's scenario
if not t[1] then
  if auto_sid == '' or answer or view then return {'NONE'} end
  if redis.call('EXISTS', P .. 'sc:' .. auto_sid) == 0 then return {'NOSC'} end
  insert(member, auto_sid, auto_seed, now, tonumber(max_tasks), ttl)
  t = redis.call('HMGET', tk, unpack(FIELDS))
end
local raw_plan = redis.call('HGET', P .. 'sc:' .. t[1], 'plan')
-- sc:<sid> gone under an existing task (a reset racing its creation, keys deleted): Python
-- writes it again if it knows it, else forgets the task (RedisStore._poll_task)
if not raw_plan then return {'NOPLAN', t[1]} end
local plan = cjson.decode(raw_plan)
-- machine.poll: count the request
local n
if answer then
  n = tonumber(answer_n)
elseif view then
  n = 0
else
  n = redis.call('HINCRBY', tk, 'rq', 1)
  -- machine.pick_fault draws probability faults from n: Python draws, then calls 'answer'
  if plan.p == 1 or global_prob == '1' then return {'BEGIN', n, fmt(now), t[1], t[2], t[3]} end
end
local steps = plan.s
local last = #steps - 1
local st, ss, sp, an = tonumber(t[4]), tonumber(t[5]), tonumber(t[6]), tonumber(t[7])
local ri, fa = t[8], t[9]
local finished_before = fa
-- machine.settle (TaskState.settle): through every time-driven step whose time is up
while st < last do
  local sec = steps[st + 1][SECONDS]
  if sec < 0 or now - ss < sec then break end
  ss = ss + sec
  st = st + 1
  sp = 0
end
local step = steps[st + 1]
local answered_st = st
-- machine.settle: the run id is the step's own; on SUCCESS the task keeps the first it
-- gets, the step's own or the next of ctr:run counted from machine.FIRST_RUN_ID
local run_id = step[RUN_ID]
if step[SUCCESS] == 1 then
  if not ri then
    ri = step[RUN_ID]
    if ri == '' then
      ri = tostring(redis.call('INCR', P .. 'ctr:run') + tonumber(first_run_id) - 1)
    end
    redis.call('HSET', P .. 'runs', ri, member)
  end
  run_id = ri
end
-- machine.settle: at a final last step the task finishes (MemoryStore keeps it in 'fin', in
-- the order tasks finish)
if st == last and step[FINAL] == 1 and not fa then
  fa = fmt(now)
  redis.call('ZADD', P .. 'fin', redis.call('INCR', P .. 'ctr:order'), member)
end
if view then
  redis.call('HSET', tk, 'st', st, 'ss', fmt(ss), 'sp', sp)
  if ri then redis.call('HSET', tk, 'ri', ri) end
  if fa then redis.call('HSET', tk, 'fa', fa) end
  return {'VIEW'}
end
-- machine.pick_fault, by-number and by-time faults (the only kinds here; Fault.strikes):
-- the scenario's, then the settings', each in order; an 'answer' brings the fault Python
-- picked. A window [from, to) holds the clock time since the task was created (to -1: ever)
local fsrc, fidx, fcode, ftype = 0, 0, nil, nil
if answer then
  if answer_code ~= '' then fsrc, fcode, ftype = 9, tonumber(answer_code), answer_type end
else
  local sources = {plan.f, {}}
  if global_faults ~= '[]' then sources[2] = cjson.decode(global_faults) end
  local age = now - tonumber(t[3])
  for src = 1, 2 do
    for i, f in ipairs(sources[src]) do
      local hit = false
      for _, p in ipairs(f[F_POLLS]) do
        if p == n then hit = true break end
      end
      if not hit then
        for _, w in ipairs(f[F_WINDOWS]) do
          if age >= w[1] and (w[2] < 0 or age < w[2]) then hit = true break end
        end
      end
      if hit then fsrc, fidx, fcode, ftype = src, i - 1, f[F_CODE], f[F_TYPE] break end
    end
    if fsrc ~= 0 then break end
  end
end
-- machine._advance: an answered poll; the last step holds for ever
if fsrc == 0 then
  an = an + 1
  sp = sp + 1
  if st < last and step[POLLS] >= 0 and sp >= step[POLLS] then
    st = st + 1
    sp = 0
    ss = now
  end
end
redis.call('HSET', tk, 'st', st, 'ss', fmt(ss), 'sp', sp, 'an', an)
if ri then redis.call('HSET', tk, 'ri', ri) end
if fa then redis.call('HSET', tk, 'fa', fa) end
-- machine._remember: the history, the last history_limit entries
local status_json = cjson.encode(step[STATUS])
local limit = tonumber(history_limit)
if limit > 0 then
  local hk = P .. 'h:' .. member
  local entry
  if fsrc == 0 then
    entry = '[' .. n .. ',' .. fmt(now) .. ',200,' .. status_json .. ',null]'
  else
    entry = '[' .. n .. ',' .. fmt(now) .. ',' .. fcode .. ',null,' .. cjson.encode(ftype) .. ']'
  end
  redis.call('RPUSH', hk, entry)
  redis.call('LTRIM', hk, -limit, -1)
end
-- journal.entry, when the delay is known in advance (Emulator._answer: the scenario's
-- latency, else the settings'; 'x' = drawn per request, journaled by Python instead).
-- journal_head, journal_tail and journal_cost are journal.known_members; between head and
-- tail journal.POLL_FIELDS (a dropped answer has no status code)
local journaled = 0
local size = tonumber(journal_size)
local delay = plan.l
if delay == '' then delay = global_delay end
if size > 0 and delay ~= 'x' then
  if delay == '' then delay = '0.0' end
  local seq = redis.call('INCR', P .. 'j:seq')
  local request, code, tstatus, dropped = n, 200, status_json, 'false'
  if fsrc ~= 0 then
    -- a fault's answer (_fault_reply): only an http_error fault has a JSON body
    code, tstatus = fcode, 'null'
    if ftype ~= 'http_error' then request = 'null' end
    if ftype == 'drop_connection' then code, dropped = 'null', 'true' end
  end
  local entry = '{"seq":' .. seq .. ',' .. journal_head .. ',"request":' .. request ..
    ',"status_code":' .. code .. ',"task_status":' .. tstatus .. ',"dropped":' .. dropped ..
    ',"delay_ms":' .. delay .. ',"clock":' .. fmt(now) .. ',' .. journal_tail .. '}'
  journal_push(entry, tonumber(journal_cost), size, tonumber(journal_bytes))
  journaled = 1
end
-- MemoryStore.poll: a poll of a task finished before expires the finished tasks whose
-- finished_ttl is up (this one too: answered, then gone)
if finished_before and ttl ~= '' then expire(now, ttl) end
return {'OK', n, fmt(now), answered_st, run_id, fsrc, fidx, t[1], t[2], t[3], journaled}
