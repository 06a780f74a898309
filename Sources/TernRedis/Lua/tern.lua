#!lua name=tern

-- Tern's server-side cache logic: one library, loaded with FUNCTION LOAD REPLACE and called by
-- name with FCALL, so that every atomic read-modify-write of the cache lives here and not as
-- script strings scattered through Swift code. Keys come in KEYS (so a cluster routes them),
-- everything else in ARGV. Times are in milliseconds.

local LIBRARY_VERSION = 3

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

-- The response cache. One entry (one URL) is a hash `tern:{h}:v`, variant ID -> metadata, and
-- body chunks `tern:{h}:b:<variant>:<generation>:<n>`; the `{h}` hash tag puts them in one
-- cluster slot. Metadata starts with the line `T1 <generation> <chunks> <length> <expires-ms>`,
-- followed by fields only the proxy reads. ARGV carries the chunk key prefix `tern:{h}:b:`.

-- The generation and chunk count of a metadata value, or nil when it is not in the T1 format.
local function cache_meta(meta)
  local generation, count, length, expires = string.match(meta, '^T1 (%w+) (%d+) (%d+) (%-?%d+)\n')
  if generation == nil then
    return nil
  end
  return generation, tonumber(count), length, expires
end

local function chunk_key(prefix, variant, generation, index)
  return prefix .. variant .. ':' .. generation .. ':' .. index
end

-- How long (ms) a replaced generation's chunks stay readable for a client still streaming them.
local REPLACED_GRACE_MS = 30000

-- tern_cache_commit(KEYS[1] = variants hash; ARGV[1] = variant ID, ARGV[2] = metadata,
-- ARGV[3] = TTL in ms, ARGV[4] = chunk key prefix)
-- Makes a fully written variant visible: checks that its chunks are all there and gives them the
-- TTL, stores the metadata, keeps the hash alive for the longest TTL of its variants, and lets
-- the replaced generation's chunks expire shortly. Returns 1, or 0 when a chunk is missing.
local function cache_commit(keys, args)
  local ttl = tonumber(args[3])
  if ttl == nil or ttl <= 0 then
    return redis.error_reply('ERR tern_cache_commit: TTL must be a positive number')
  end
  local generation, count = cache_meta(args[2])
  if generation == nil then
    return redis.error_reply('ERR tern_cache_commit: malformed metadata')
  end
  for index = 0, count - 1 do
    if redis.call('PEXPIRE', chunk_key(args[4], args[1], generation, index), ttl) == 0 then
      return 0
    end
  end
  local old = redis.call('HGET', keys[1], args[1])
  local remaining = redis.call('PTTL', keys[1])
  redis.call('HSET', keys[1], args[1], args[2])
  if remaining < ttl then
    redis.call('PEXPIRE', keys[1], ttl)
  end
  if old then
    local old_generation, old_count = cache_meta(old)
    if old_generation and old_generation ~= generation then
      for index = 0, old_count - 1 do
        local key = chunk_key(args[4], args[1], old_generation, index)
        if redis.call('PTTL', key) > REPLACED_GRACE_MS then
          redis.call('PEXPIRE', key, REPLACED_GRACE_MS)
        end
      end
    end
  end
  return 1
end

-- tern_cache_chunk(KEYS[1] = variants hash; ARGV[1] = variant ID, ARGV[2] = index, ARGV[3] = prefix)
-- Body chunk ARGV[2] of the variant's current generation, or nil.
local function cache_chunk(keys, args)
  local meta = redis.call('HGET', keys[1], args[1])
  if not meta then
    return false
  end
  local generation = cache_meta(meta)
  if generation == nil then
    return redis.error_reply('ERR tern_cache_chunk: corrupt metadata')
  end
  return redis.call('GET', chunk_key(args[3], args[1], generation, args[2]))
end

-- tern_cache_lookup(KEYS[1] = variants hash; ARGV[1] = chunk key prefix) -> {fields, chunk}
-- A lookup in one round trip: every variant's metadata, as HGETALL gives it, and, when there is
-- exactly one variant, chunk 0 of its current generation (nil if gone), read atomically with it.
-- Most URLs have one variant and a small body: the whole hit is this one call.
local function cache_lookup(keys, args)
  local all = redis.call('HGETALL', keys[1])
  local chunk = false
  if #all == 2 then
    local generation, count = cache_meta(all[2])
    if generation and count > 0 then
      chunk = redis.call('GET', chunk_key(args[1], all[1], generation, 0))
    end
  end
  return {all, chunk}
end

-- tern_cache_update(KEYS[1] = variants hash; ARGV[1] = variant ID, ARGV[2] = new fields (after the
-- T1 line), ARGV[3] = TTL in ms, ARGV[4] = prefix, ARGV[5] = new expiry in ms since the epoch)
-- After a revalidation: new headers and times, the same body. Returns 1, or 0 when the variant (or
-- one of its chunks) is gone.
local function cache_update(keys, args)
  local ttl = tonumber(args[3])
  if ttl == nil or ttl <= 0 then
    return redis.error_reply('ERR tern_cache_update: TTL must be a positive number')
  end
  local old = redis.call('HGET', keys[1], args[1])
  if not old then
    return 0
  end
  local generation, count, length = cache_meta(old)
  if generation == nil then
    return redis.error_reply('ERR tern_cache_update: corrupt metadata')
  end
  for index = 0, count - 1 do
    if redis.call('PEXPIRE', chunk_key(args[4], args[1], generation, index), ttl) == 0 then
      redis.call('HDEL', keys[1], args[1])
      return 0
    end
  end
  redis.call('HSET', keys[1], args[1], 'T1 ' .. generation .. ' ' .. count .. ' ' .. length .. ' ' .. args[5] .. '\n' .. args[2])
  if redis.call('PTTL', keys[1]) < ttl then
    redis.call('PEXPIRE', keys[1], ttl)
  end
  return 1
end

-- tern_cache_purge(KEYS[1] = variants hash; ARGV[1] = prefix) -> how many variants were stored.
-- Deletes every variant's chunks and the hash.
local function cache_purge(keys, args)
  local all = redis.call('HGETALL', keys[1])
  local variants = 0
  for i = 1, #all, 2 do
    variants = variants + 1
    local generation, count = cache_meta(all[i + 1])
    if generation then
      for index = 0, count - 1 do
        redis.call('DEL', chunk_key(args[1], all[i], generation, index))
      end
    end
  end
  redis.call('DEL', keys[1])
  return variants
end

-- tern_rate_take(KEYS[1] = bucket key; ARGV[1] = tokens per second, ARGV[2] = burst) -> 0 when a
-- token was taken, otherwise the milliseconds until one is back. The proxy's `rate-limit`, shared by
-- every proxy that uses this Redis: one token bucket per client address, as a hash {t = tokens,
-- u = last update in microseconds}. Time is the server's (TIME), so the proxies' clocks need not
-- agree. The bucket expires once it would have refilled, so idle addresses cost nothing.
local function rate_take(keys, args)
  local rate = tonumber(args[1])
  local burst = tonumber(args[2])
  if rate == nil or rate <= 0 or burst == nil or burst < 1 then
    return redis.error_reply('ERR tern_rate_take: rate and burst must be positive numbers')
  end
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local bucket = redis.call('HMGET', keys[1], 't', 'u')
  local tokens = tonumber(bucket[1]) or burst
  local updated = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - updated) / 1000000 * rate)
  local wait = 0
  if tokens >= 1 then
    tokens = tokens - 1
  else
    wait = math.max(1, math.ceil((1 - tokens) / rate * 1000))
  end
  redis.call('HSET', keys[1], 't', string.format('%.17g', tokens), 'u', string.format('%d', now))
  redis.call('PEXPIRE', keys[1], math.ceil(burst / rate * 1000) + 1000)
  return wait
end

redis.register_function{function_name = 'tern_version', callback = version, flags = {'no-writes'}}
redis.register_function('tern_set_if_newer', set_if_newer)
redis.register_function{function_name = 'tern_get_versioned', callback = get_versioned, flags = {'no-writes'}}
redis.register_function('tern_lease_acquire', lease_acquire)
redis.register_function('tern_lease_release', lease_release)
redis.register_function('tern_cache_commit', cache_commit)
redis.register_function{function_name = 'tern_cache_chunk', callback = cache_chunk, flags = {'no-writes'}}
redis.register_function{function_name = 'tern_cache_lookup', callback = cache_lookup, flags = {'no-writes'}}
redis.register_function('tern_cache_update', cache_update)
redis.register_function('tern_cache_purge', cache_purge)
redis.register_function('tern_rate_take', rate_take)
