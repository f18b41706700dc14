import { redisScript as script } from '../redis';

/**
 * The Lua scripts of `RedisTokenStore`. Each touches only the keys of one user, which share a hash
 * slot (`{<hash>}` tag), so they run unchanged on Redis Cluster. Layout:
 * - `KEYS[1]` `<prefix>{<hash>}:tokens`, a hash: `v` version (never reset while the key lives),
 *   `d` encrypted token set (absent after a delete: a tombstone that keeps versions monotonic);
 * - `KEYS[2]` `<prefix>{<hash>}:lock`, a string: the refresh lock owner's random token;
 * - `<prefix>{<hash>}:backoff`, a hash: `n` failed refreshes since the last write, `until` end of
 *   the current backoff in ms on the Redis server's clock (one clock for every app process).
 * Every change publishes on the user's channel so waiting processes wake up at once.
 */
export type { RedisScript } from '../redis';

/** KEYS[2] is the backoff. ARGV: data, ttlMs, channel. Returns the new version. */
export const SET = script(`
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], v)
return v
`);

/** KEYS[3] is the backoff. ARGV: expectedVersion, data, ttlMs, lockToken, channel. Returns the new version, 0 on conflict. */
export const COMPARE_AND_SET = script(`
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
if not cur[2] or tonumber(cur[1]) ~= tonumber(ARGV[1]) then return 0 end
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[5], v)
return v
`);

/** ARGV: expectedVersion ('' for any), tombstoneTtlMs, channel. Returns 1 when deleted. */
export const DELETE = script(`
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
if not cur[2] then return 0 end
if ARGV[1] ~= '' and tonumber(cur[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HDEL', KEYS[1], 'd')
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], v)
return 1
`);

/** KEYS[1] is the lock. ARGV: lockToken, channel. Returns 1 when released. */
export const RELEASE_LOCK = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'unlocked')
return 1
`);

/** Returns { version, lockHeld }. */
export const PEEK = script(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
return { v, redis.call('EXISTS', KEYS[2]) }
`);

/** KEYS[1] is the backoff. ARGV: baseMs, maxMs. Returns the backoff in ms. */
export const NOTE_REFRESH_FAILURE = script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local delay = math.floor(math.min(max, base * 2 ^ math.min(n - 1, 60)))
redis.call('HSET', KEYS[1], 'until', now + delay)
redis.call('PEXPIRE', KEYS[1], math.max(1, delay + max))
return delay
`);

/** KEYS[1] is the backoff. Returns the ms left of it, 0 when none. */
export const REFRESH_BACKOFF = script(`
local u = redis.call('HGET', KEYS[1], 'until')
if not u then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return math.max(0, tonumber(u) - now)
`);

/**
 * KEYS[1] is the lock. ARGV: lockToken, ttlMs. Returns 1 when `lockToken` holds the lock (taken
 * now, or already: a command re-sent after a lost reply), 0 when another token does.
 */
export const ACQUIRE_LOCK = script(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);
