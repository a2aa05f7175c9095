"""Lua scripts: each conversation move that spans several keys, done atomically.

Each script re-checks the precondition the service decided on (expected state,
expected counsellor) inside Redis, so that two racing clients cannot both succeed
and a crash can never leave half a move. Scripts answer with a status word first;
the store turns it into a domain result.
"""

# Shared by every script that closes a conversation: when it is purged (later for a
# conversation the police were let into), and that it still has to be counted.
_SCHEDULE_PURGE = """
local function schedule_purge(conv, cid, now, normal, police, purge, uncounted)
  local involved = redis.call('HGET', conv, 'police_involved') == '1'
  local at = tonumber(now) + tonumber(involved and police or normal)
  redis.call('HSET', conv, 'purge_at', at)
  redis.call('ZADD', purge, at, cid)
  redis.call('SADD', uncounted, cid)
end
"""

# KEYS: conv, msgs, dedup
# ARGV: sender kind ("youth", "staff" or "police"), the sender's name ("" for the young
#       person), sender role, now ms, body, client_msg_id ("" = none), dedup ttl
#       seconds, now (Unix seconds, for the police consent)
# The whole SEND check of helpline/domain/access.py (`check_access`) in the same
# atomic step as the append, so a message costs one round trip. It MIRRORS that
# function (the role check and the young person's own-id check stay in Python, they
# need no data): change both together; tests/test_access.py runs the table through
# both. Answers `not_found` / `ended` (the young person's chat is over) / `not_active`
# (staff: not active), or the seq and who receives it now (counsellor, handover,
# officer), read in the same step, so a message never misses a counsellor who just
# took over.
APPEND_MESSAGE = """
local c = redis.call('HMGET', KEYS[1], 'state', 'counsellor', 'handover', 'police_officer',
                     'police_expires', 'youth_conns')
local state = c[1]
if not state then return {'not_found'} end
if ARGV[1] == 'youth' then
  if state ~= 'intake' and state ~= 'offline' and state ~= 'queued' and state ~= 'active' then
    return {'ended', state}
  end
elseif ARGV[1] == 'staff' then
  if c[2] ~= ARGV[2] then return {'not_found'} end
  if state ~= 'active' then return {'not_active', state} end
elseif ARGV[1] == 'police' then
  if c[3] ~= 'joined' then return {'not_found'} end
  if c[4] ~= ARGV[2] then return {'not_found'} end
  local expires = tonumber(c[5])
  if not expires or expires <= tonumber(ARGV[8]) then return {'not_found'} end
  if state ~= 'active' then return {'not_active', state} end
else
  return {'not_found'}
end
-- Resends are recognised per sender: one sender's id never hides another's message.
local dedup = ARGV[3] .. ':' .. ARGV[2] .. ':' .. ARGV[6]
if ARGV[6] ~= '' then
  local seen = redis.call('HGET', KEYS[3], dedup)
  if seen then return {'duplicate', seen} end
end
local seq = redis.call('RPUSH', KEYS[2], ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5])
redis.call('HSET', KEYS[1], 'last_seq', seq, 'last_activity', ARGV[4])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], dedup, seq)
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[7]))
end
return {'ok', tostring(seq), c[2] or '', c[3] or '', c[4] or '', c[6] or '0'}
"""

# Count a young person's connection bound to a conversation (+1) or gone (-1); never
# below 0, and never for a conversation that no longer exists (no stray hash).
# KEYS: conv; ARGV: +1 or -1
COUNT_YOUTH_CONNECTION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'youth_conns', tonumber(ARGV[1]))
if n < 0 then redis.call('HSET', KEYS[1], 'youth_conns', 0) return 0 end
return n
"""

# KEYS: conv, queue, held(username), participants
# ARGV: conversation id, username, now ms, capacity
# Answers with the rank (0 = first) it had in the queue: only those behind it moved.
ACCEPT = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= 'queued' then return {'invalid_state', state} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'capacity'} end
redis.call('HSET', KEYS[1], 'state', 'active', 'counsellor', ARGV[2], 'accepted_at', ARGV[3])
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
return {'ok', tostring(rank or -1)}
"""

# End a conversation. Unanswered (queued) -> closed; answered (active) -> ended.
# KEYS: conv, queue, live, purge, uncounted, offline
# ARGV: conversation id, allowed states (comma list), required counsellor ("" = any),
#       ended_by, now ms, retention ms, police retention ms
# Answers with the new state and, when closed, the rank it had in the queue (-1: none).
END = _SCHEDULE_PURGE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if not string.find(',' .. ARGV[2] .. ',', ',' .. state .. ',', 1, true) then
  return {'invalid_state', state}
end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'counsellor') ~= ARGV[3] then
  return {'not_found'}
end
if state == 'queued' or state == 'intake' or state == 'offline' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'ended_at', ARGV[5], 'ended_by', ARGV[4],
             'closed_at', ARGV[5])
  local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[6], ARGV[1])
  schedule_purge(KEYS[1], ARGV[1], ARGV[5], ARGV[6], ARGV[7], KEYS[4], KEYS[5])
  return {'ok', 'closed', tostring(rank or -1)}
end
redis.call('HSET', KEYS[1], 'state', 'ended', 'ended_at', ARGV[5], 'ended_by', ARGV[4],
           'last_activity', ARGV[5])
return {'ok', 'ended'}
"""

# KEYS: conv, held(counsellor), live, purge, uncounted
# ARGV: conversation id, counsellor, now ms, retention ms, police retention ms,
#       then field/value pairs of the wrap-up
WRAPUP = _SCHEDULE_PURGE + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if redis.call('HGET', KEYS[1], 'counsellor') ~= ARGV[2] then return {'not_found'} end
if state ~= 'active' and state ~= 'ended' then return {'invalid_state', state} end
if state == 'active' then
  redis.call('HSET', KEYS[1], 'ended_at', ARGV[3], 'ended_by', 'counsellor')
end
redis.call('HSET', KEYS[1], 'state', 'closed', 'closed_at', ARGV[3])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
-- A closed conversation has no police part any more.
local h = redis.call('HGET', KEYS[1], 'handover') or 'none'
if h == 'offered' or h == 'consented' or h == 'joined' then
  redis.call('HSET', KEYS[1], 'handover', 'ended', 'police_officer', '', 'police_offer', '')
end
schedule_purge(KEYS[1], ARGV[1], ARGV[3], ARGV[4], ARGV[5], KEYS[4], KEYS[5])
return {'ok', state}
"""

# KEYS: conv, held(from), held(to), participants
# ARGV: conversation id, from, to, capacity
REASSIGN = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= 'active' then return {'invalid_state', state} end
if redis.call('HGET', KEYS[1], 'counsellor') ~= ARGV[2] then return {'not_found'} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'capacity'} end
redis.call('HSET', KEYS[1], 'counsellor', ARGV[3])
redis.call('SMOVE', KEYS[2], KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[3])
return {'ok'}
"""

# A counter that expires a fixed window after its first increment (EXPIRE NX needs
# Redis 7; the embedded server is 6.2).
# KEYS: counter; ARGV: window seconds
COUNT_IN_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return n
"""

# KEYS: staff hash, staff index; ARGV: username, then field/value pairs
CREATE_STAFF = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# Start the next key epoch of a conversation: the young person's client sends the
# wraps of a fresh epoch key; epochs only move forward by one, and the young person's
# signing key is set once, with epoch 1. With a police wrap (ARGV[4] = '1') the
# handover must still be consented or joined, and the first such epoch is recorded
# with the seq police may read from.
# KEYS: conv, e2e, wraps
# ARGV: allowed states (comma list), epoch, youth signing key ("" after epoch 1),
#       police wrap ('1' or '0'), then recipient fingerprint / wrap pairs
SET_EPOCH = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if not string.find(',' .. ARGV[1] .. ',', ',' .. state .. ',', 1, true) then
  return {'invalid_state', state}
end
if ARGV[4] == '1' then
  local h = redis.call('HGET', KEYS[1], 'handover') or 'none'
  if h ~= 'consented' and h ~= 'joined' then return {'no_consent', h} end
end
local current = tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0')
local epoch = tonumber(ARGV[2])
if epoch ~= current + 1 then return {'bad_epoch', tostring(current)} end
-- Only an accepted epoch marks where the police may start reading.
if ARGV[4] == '1' and (redis.call('HGET', KEYS[1], 'police_epoch') or '') == '' then
  local from = tonumber(redis.call('HGET', KEYS[1], 'last_seq') or '0') + 1
  redis.call('HSET', KEYS[1], 'police_epoch', ARGV[2], 'police_from_seq', from)
end
if epoch == 1 then
  if ARGV[3] == '' then return {'bad_epoch', tostring(current)} end
  redis.call('HSET', KEYS[2], 'youth_key', ARGV[3])
end
redis.call('HSET', KEYS[2], 'epoch', epoch, 'statement:' .. epoch, ARGV[5])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[3], epoch .. ':' .. ARGV[i], ARGV[i + 1])
end
return {'ok'}
"""

# Append one audit entry if the chain head is still the one the entry links to.
# KEYS: audit list, audit head; ARGV: expected head ("count:hash"), new head, entry JSON
APPEND_AUDIT = """
local head = redis.call('GET', KEYS[2]) or ('0:' .. string.rep('0', 64))
if head ~= ARGV[1] then return 0 end
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""

# A guarded change of the police handover: applies only if the conversation and the
# handover are in the expected states (and a field has an expected value), records a
# consent nonce once, and may add a participant.
# KEYS: conv, nonces, participants
# ARGV: conversation states (comma list, '' = any), handover states (comma list),
#       check field ('' = none), its expected value, nonce ('' = none),
#       participant to add ('' = none), then field/value pairs to set
HANDOVER = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if ARGV[1] ~= '' and not string.find(',' .. ARGV[1] .. ',', ',' .. state .. ',', 1, true) then
  return {'invalid_state', state}
end
local h = redis.call('HGET', KEYS[1], 'handover') or 'none'
if not string.find(',' .. ARGV[2] .. ',', ',' .. h .. ',', 1, true) then
  return {'bad_handover', h}
end
if ARGV[3] ~= '' and (redis.call('HGET', KEYS[1], ARGV[3]) or '') ~= ARGV[4] then
  return {'not_found'}
end
if ARGV[5] ~= '' then
  if redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then return {'replay'} end
  redis.call('SADD', KEYS[2], ARGV[5])
end
if ARGV[6] ~= '' then redis.call('SADD', KEYS[3], ARGV[6]) end
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return {'ok', h}
"""

# Add wraps of earlier epochs for the police, if the consent shares history.
# KEYS: conv, wraps; ARGV: then "epoch:recipient" / wrap pairs
SHARE_HISTORY = """
local h = redis.call('HGET', KEYS[1], 'handover') or 'none'
if h ~= 'consented' and h ~= 'joined' then return {'no_consent', h} end
if redis.call('HGET', KEYS[1], 'police_share') ~= '1' then return {'no_consent', h} end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return {'ok'}
"""

# Close a conversation nobody touched for too long (a young person who left the queue
# by closing the tab, a wrap-up never filed).
# KEYS: conv, queue, live, held(counsellor; an unused key when none), purge, uncounted,
#       offline
# ARGV: conversation id, now ms, idle ms, retention ms, police retention ms
CLOSE_IDLE = _SCHEDULE_PURGE + """
local f = redis.call('HMGET', KEYS[1], 'state', 'queued_at', 'last_activity', 'accepted_at')
-- A message left while the helpline was closed waits for the opening, however long.
if not f[1] or f[1] == 'closed' or f[1] == 'offline' then return {'skip'} end
local last = math.max(tonumber(f[2] or '0'), tonumber(f[3] or '0'), tonumber(f[4] or '0'))
if last + tonumber(ARGV[3]) > tonumber(ARGV[2]) then return {'skip'} end
redis.call('HSET', KEYS[1], 'state', 'closed', 'closed_at', ARGV[2], 'ended_by', 'timeout')
if redis.call('HGET', KEYS[1], 'ended_at') == false then
  redis.call('HSET', KEYS[1], 'ended_at', ARGV[2])
end
local h = redis.call('HGET', KEYS[1], 'handover') or 'none'
if h == 'offered' or h == 'consented' or h == 'joined' then
  redis.call('HSET', KEYS[1], 'handover', 'ended', 'police_officer', '', 'police_offer', '')
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
schedule_purge(KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5], KEYS[5], KEYS[6])
return {'ok'}
"""

# The young person's "delete now": due at once, unless the police were let in.
# KEYS: conv, purge; ARGV: conversation id, now ms
PURGE_NOW = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
if redis.call('HGET', KEYS[1], 'police_involved') == '1' then return {'police'} end
redis.call('HSET', KEYS[1], 'purge_at', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {'ok'}
"""

# Count a closed conversation once, into its statistics cell.
# KEYS: conv, uncounted, stats(week); ARGV: conversation id, cell
ROLLUP = """
if redis.call('HGET', KEYS[1], 'counted') ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
  redis.call('HSET', KEYS[1], 'counted', '1')
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""

# Delete every key of a due conversation in one step, counting it first if it was
# never counted. Re-checks that it is due and still held by the expected counsellor.
# KEYS: conv, msgs, dedup, e2e, wraps, who, nonces, purge, live, queue, held,
#       uncounted, stats(week), return code look-up (an unused key when none), offline
# ARGV: conversation id, expected counsellor ("" = none), now ms, cell
PURGE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local f = redis.call('HMGET', KEYS[1], 'purge_at', 'counsellor', 'counted')
  if not f[1] or tonumber(f[1]) > tonumber(ARGV[3]) then return {'not_due'} end
  if (f[2] or '') ~= ARGV[2] then return {'changed'} end
  if f[3] ~= '1' then redis.call('HINCRBY', KEYS[13], ARGV[4], 1) end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('ZREM', KEYS[9], ARGV[1])
redis.call('ZREM', KEYS[10], ARGV[1])
redis.call('SREM', KEYS[11], ARGV[1])
redis.call('SREM', KEYS[12], ARGV[1])
redis.call('DEL', KEYS[14])
redis.call('ZREM', KEYS[15], ARGV[1])
return {'ok'}
"""


# Set fields only while the conversation is in the expected state.
# KEYS: conv; ARGV: expected state, then field/value pairs
UPDATE_IF_STATE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= ARGV[1] then return {'invalid_state', state} end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return {'ok'}
"""

# Leave the intake (finished or skipped): into the queue, or into the offline set
# outside opening hours.
# KEYS: conv, queue, offline
# ARGV: conversation id, now ms, target state ('queued' or 'offline'), queue score,
#       then field/value pairs
FINISH_INTAKE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= 'intake' then return {'invalid_state', state} end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'queued_at', ARGV[2], 'intake_step', '',
           'last_activity', ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[3] == 'queued' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
end
return {'ok'}
"""

# The helpline opened: an offline conversation joins the queue.
# KEYS: conv, queue, offline; ARGV: conversation id, now ms, queue score
OFFLINE_TO_QUEUE = """
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[1], 'state') ~= 'offline' then return {'skip'} end
redis.call('HSET', KEYS[1], 'state', 'queued', 'queued_at', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {'ok'}
"""

# Open a conversation straight with the counsellor who made the invite; the invite
# works once, before it expires.
# KEYS: invite, conv, live, participants
# ARGV: conversation id, now ms, resume hash, language ("" = none), campaign ("" = none),
#       prefix of the held sets (the inviter is known only inside the script; fine on
#       one Redis, not on a cluster)
OPEN_INVITE = """
local inv = redis.call('HMGET', KEYS[1], 'counsellor', 'expires_at', 'used')
if not inv[1] then return {'invalid'} end
if inv[3] == '1' then return {'used'} end
if tonumber(inv[2]) <= tonumber(ARGV[2]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HSET', KEYS[2], 'state', 'active', 'created_at', ARGV[2], 'queued_at', ARGV[2],
           'accepted_at', ARGV[2], 'last_seq', 0, 'resume_hash', ARGV[3],
           'counsellor', inv[1], 'invited_by', inv[1], 'last_activity', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'language', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'campaign', ARGV[5]) end
redis.call('SADD', ARGV[6] .. inv[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], inv[1])
return {'ok', inv[1]}
"""
