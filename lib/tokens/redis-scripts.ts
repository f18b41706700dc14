import { redisScript as script } from '../redis-ops';

/**
 * The Lua scripts of `RedisTokenStore`. Each touches only the keys of one user, which share a hash
 * slot (`{<hash>}` tag), so they run unchanged on Redis Cluster. Layout:
 * - `KEYS[1]` `<prefix>{<hash>}:tokens`, a hash: `v` version (never reset while the key lives),
 *   `d` encrypted token set (absent after a delete: a tombstone that keeps versions monotonic);
 * - `KEYS[2]` `<prefix>{<hash>}:lock`, a string: the refresh lock owner's random token.
 * Every change publishes on the user's channel so waiting processes wake up at once.
 */
export type { RedisScript } from '../redis-ops';

/** ARGV: data, ttlMs, channel. Returns the new version. */
export const SET = script(`
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], v)
return v
`);

/** ARGV: expectedVersion, data, ttlMs, lockToken, channel. Returns the new version, 0 on conflict. */
export const COMPARE_AND_SET = script(`
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
if not cur[2] or tonumber(cur[1]) ~= tonumber(ARGV[1]) then return 0 end
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
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
