#!lua name=tern

-- Tern's server-side cache logic: one library, loaded with FUNCTION LOAD REPLACE and called by
-- name with FCALL, so that every atomic read-modify-write of the cache lives here and not as
-- script strings scattered through Swift code. Keys come in KEYS (so a cluster routes them),
-- everything else in ARGV. Times are in milliseconds.

local LIBRARY_VERSION = 1

-- tern_version(): the version of this library, to tell whether the server holds the current one.
local function version(keys, args)
  return LIBRARY_VERSION
end

-- tern_set_if_newer(KEYS[1] = entry key; ARGV[1] = version, ARGV[2] = value, ARGV[3] = TTL in ms, 0 for none)
-- Stores the value with its version in a hash {v = version, d = value}, but only if no newer or
-- equal version is stored: concurrent writers of one cache entry cannot put an older response over
-- a fresher one. Returns 1 when written, 0 when the stored version is newer or equal.
local function set_if_newer(keys, args)
  local new_version = tonumber(args[1])
  if new_version == nil then
    return redis.error_reply('ERR tern_set_if_newer: version must be a number')
  end
  local current = redis.call('HGET', keys[1], 'v')
  if current and tonumber(current) >= new_version then
    return 0
  end
  redis.call('HSET', keys[1], 'v', args[1], 'd', args[2])
  local ttl = tonumber(args[3] or '0')
  if ttl and ttl > 0 then
    redis.call('PEXPIRE', keys[1], ttl)
  else
    redis.call('PERSIST', keys[1])
  end
  return 1
end

-- tern_get_versioned(KEYS[1] = entry key) -> {version, value} or nil.
local function get_versioned(keys, args)
  local entry = redis.call('HMGET', keys[1], 'v', 'd')
  if not entry[1] then
    return false
  end
  return {tonumber(entry[1]), entry[2]}
end

-- tern_lease_acquire(KEYS[1] = lease key; ARGV[1] = token, ARGV[2] = TTL in ms)
-- A lease lets one proxy fill a cache entry while the others wait or serve stale: acquired when
-- free (returns 1), renewed when the caller already holds it (returns 1), refused otherwise
-- (returns 0). It expires by itself if its holder dies.
local function lease_acquire(keys, args)
  local ttl = tonumber(args[2])
  if ttl == nil or ttl <= 0 then
    return redis.error_reply('ERR tern_lease_acquire: TTL must be a positive number')
  end
  local holder = redis.call('GET', keys[1])
  if holder == false then
    redis.call('SET', keys[1], args[1], 'PX', ttl)
    return 1
  end
  if holder == args[1] then
    redis.call('PEXPIRE', keys[1], ttl)
    return 1
  end
  return 0
end

-- tern_lease_release(KEYS[1] = lease key; ARGV[1] = token) -> 1 if released, 0 if the caller did
-- not hold it (it expired and someone else took it: theirs must not be dropped).
local function lease_release(keys, args)
  if redis.call('GET', keys[1]) == args[1] then
    redis.call('DEL', keys[1])
    return 1
  end
  return 0
end

redis.register_function{function_name = 'tern_version', callback = version, flags = {'no-writes'}}
redis.register_function('tern_set_if_newer', set_if_newer)
redis.register_function{function_name = 'tern_get_versioned', callback = get_versioned, flags = {'no-writes'}}
redis.register_function('tern_lease_acquire', lease_acquire)
redis.register_function('tern_lease_release', lease_release)
