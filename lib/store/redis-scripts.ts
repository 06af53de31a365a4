/**
 * The Lua scripts of `RedisSessionStore`, defined once on the client with `defineCommand`. Every
 * script touches the two keys of one session, `<prefix>{<sessionId>}:meta` (a hash) and
 * `<prefix>{<sessionId>}:msgs` (a list of frames), which share a hash tag and so one Cluster slot.
 *
 * Fencing: every write names the owner (a connection id, unique across nodes); a script refuses it
 * when the session has another owner, so a node that was paused or cut off (a zombie) cannot
 * change a session another node has claimed meanwhile.
 */

// Reply of the scripts that return a state: status, previous owner, previous attached, epoch,
// route, principal, clientDelivered, serverAcked, serverSeq, then the frames in seq order.
const STATE = `
local function state(status, owner, attached)
  local f = redis.call('HMGET', KEYS[1], 'epoch', 'route', 'principal', 'delivered', 'acked', 'seq')
  local reply = {status, owner, attached, f[1], f[2], f[3], f[4], f[5], f[6]}
  local frames = redis.call('LRANGE', KEYS[2], 0, -1)
  for i = 1, #frames do reply[#reply + 1] = frames[i] end
  return reply
end
`

// Constant-time comparison of two token hashes.
const SAME = `
local function same(a, b)
  if #a ~= #b then return false end
  local d = 0
  for i = 1, #a do d = bit.bor(d, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return d == 0
end
`

const EXPIRE_BOTH = `
local function expireBoth(ms)
  redis.call('PEXPIRE', KEYS[1], ms)
  redis.call('PEXPIRE', KEYS[2], ms)
end
`

/** ARGV: epoch, route, principal, tokenHash, owner, lease (ms). Returns 0 when the id is taken. */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'route', ARGV[2], 'principal', ARGV[3], 'token', ARGV[4],
  'owner', ARGV[5], 'attached', '1', 'delivered', '0', 'acked', '0', 'seq', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
`

/** ARGV: epoch, tokenHash, route, principal, owner, nextTokenHash, lease (ms). Checks in the contract's order. */
export const CLAIM = SAME + STATE + EXPIRE_BOTH + `
local f = redis.call('HMGET', KEYS[1], 'token', 'route', 'epoch', 'principal', 'owner', 'attached')
if not f[1] then return {'not-found'} end
if not same(f[1], ARGV[2]) then return {'token-mismatch'} end
if f[2] ~= ARGV[3] then return {'wrong-route'} end
if f[3] ~= ARGV[1] then return {'epoch-mismatch'} end
if f[4] ~= ARGV[4] then return {'forbidden'} end
redis.call('HSET', KEYS[1], 'token', ARGV[6], 'owner', ARGV[5], 'attached', '1')
expireBoth(ARGV[7])
return state('claimed', f[5], f[6])
`

/**
 * ARGV: owner, lease (ms), first appended seq, serverAcked (-1: unchanged), clientDelivered
 * (-1: unchanged), then the appended frames. Returns 0 when the owner does not own the session; an
 * error starting with RANGE when the patch breaks the ordering rules (nothing changes then).
 */
export const UPDATE = EXPIRE_BOTH + `
local f = redis.call('HMGET', KEYS[1], 'owner', 'attached', 'seq', 'acked', 'delivered')
if not f[1] or f[1] ~= ARGV[1] then return 0 end
local seq, acked, delivered = tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
local n = #ARGV - 5
local first = tonumber(ARGV[3])
if n > 0 and first > seq + 1 then
  return redis.error_reply('RANGE appended seq ' .. ARGV[3] .. ' does not follow ' .. seq)
end
-- A write retried after a timeout may carry frames the store already holds: skip them.
local skip = 0
if n > 0 then skip = math.min(n, seq + 1 - first) end
local newSeq = seq + n - skip
local newAcked, newDelivered = tonumber(ARGV[4]), tonumber(ARGV[5])
if newAcked >= 0 and (newAcked < acked or newAcked > newSeq) then
  return redis.error_reply('RANGE serverAcked ' .. newAcked .. ' must be between ' .. acked .. ' and ' .. newSeq)
end
if newDelivered >= 0 and newDelivered < delivered then
  return redis.error_reply('RANGE clientDelivered ' .. newDelivered .. ' is below ' .. delivered)
end
for i = 6 + skip, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if newSeq > seq then redis.call('HSET', KEYS[1], 'seq', newSeq) end
if newAcked > acked then
  redis.call('LTRIM', KEYS[2], newAcked - acked, -1)
  redis.call('HSET', KEYS[1], 'acked', newAcked)
end
if newDelivered >= 0 then redis.call('HSET', KEYS[1], 'delivered', newDelivered) end
if f[2] == '1' then
  expireBoth(ARGV[2])
else
  -- Released: the session keeps its expiry; frames appended meanwhile expire with it.
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return 1
`

/** ARGV: owner, sessionTimeout (ms). Detach: the session expires then unless claimed. */
export const RELEASE = EXPIRE_BOTH + `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'attached', '0')
expireBoth(ARGV[2])
return 1
`

/** ARGV: owner. */
export const DELETE = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`

/** ARGV: owner, lease (ms). Renews the lease of a session this owner holds attached. */
export const RENEW = EXPIRE_BOTH + `
local f = redis.call('HMGET', KEYS[1], 'owner', 'attached')
if f[1] ~= ARGV[1] or f[2] ~= '1' then return 0 end
expireBoth(ARGV[2])
return 1
`

/** No ARGV. */
export const GET = STATE + `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not-found'} end
return state('ok', '', '')
`
