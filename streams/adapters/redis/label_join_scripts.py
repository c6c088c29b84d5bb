"""The label join's Lua scripts: kept predictions in hashes per time bucket.

A key per kept prediction (``SET ... PX NX``) and an ``HSET`` of its id, one Redis call each,
were half of the 9-10 us of Redis CPU per event on the worker's path (BENCHMARKS.md, "the
label join in buckets": now 4.8-5.0). Predictions are now kept in one hash per bucket
of ``WIDTH`` seconds (by the worker's clock; every look starts a bucket ahead, for workers
whose clocks differ), written with one multi-field ``HSET`` per batch:

- ``P:{M}:kept:B``  event id -> the kept fields (JSON), ``=JOINER\\n`` in front once joined;
  expires at ``(B + 1) * WIDTH + TTL``: a prediction is kept at least ``TTL`` seconds and at
  most ``WIDTH`` (a quarter of it) more
- ``P:{M}:ids:B``   event id -> 1, expiring ``TTL + WIDTH`` later still: a label whose
  prediction is gone but was kept is ``expired``, not ``unknown``

Keeping is ``NX`` as before: an id found in any live ``kept`` bucket is not stored again, so
a replayed prediction never revives one that was joined. Predictions kept before this layout
(``P:{M}:pred:E``, one key each) are still found and joined until their TTL ends; an id
seen only there and expired counts as ``unknown``.
"""

from __future__ import annotations

from streams.adapters.redis.scripts import SLICED

__all__ = ["JOIN", "KEEP", "RETRY"]

# KEYS[1] the model's base; every script's ARGV starts with the bucket of now, WIDTH, TTL
# (seconds). The scripts call nothing an ACL user of before the buckets lacks (``acl.py``).
_BUCKETS = (
    SLICED
    + """
local base, now_bucket = KEYS[1], tonumber(ARGV[1])
local width, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local kept_span = math.ceil(ttl / width) + 1
local ids_span = math.ceil(2 * ttl / width) + 2

-- The kept fields of event_id, the key holding them, and whether that key is a bucket.
local function find_kept(event_id)
  for back = -1, kept_span do
    local key = base .. ':kept:' .. (now_bucket - back)
    local kept = redis.call('HGET', key, event_id)
    if kept then return kept, key, true end
  end
  local legacy = base .. ':pred:' .. event_id
  local kept = redis.call('GET', legacy)
  if kept then return kept, legacy, false end
  return nil, nil, false
end

local function mark_joined(key, in_bucket, event_id, value)
  if in_bucket then
    redis.call('HSET', key, event_id, value)
  else
    redis.call('SET', key, value, 'KEEPTTL')
  end
end

local function was_kept(event_id)
  for back = -1, ids_span do
    if redis.call('HEXISTS', base .. ':ids:' .. (now_bucket - back), event_id) == 1 then
      return true
    end
  end
  return false
end
"""
)

# ARGV: bucket, WIDTH, TTL, the seconds until the bucket's kept fields and its ids expire,
# then event id, kept fields pairs. Returns how many were stored.
KEEP = (
    _BUCKETS
    + """
local ids, values = {}, {}
for i = 6, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  values[#values + 1] = ARGV[i + 1]
end
local kept_already = {}
for back = -1, kept_span do
  local key = base .. ':kept:' .. (now_bucket - back)
  if redis.call('EXISTS', key) == 1 then
    for i, found in pairs(hmget_sliced(key, ids)) do
      if found then kept_already[i] = true end
    end
  end
end
local kept, seen, added = {}, {}, {}
for i = 1, #ids do
  if not kept_already[i] and not added[ids[i]] then
    added[ids[i]] = true
    kept[#kept + 1] = ids[i]
    kept[#kept + 1] = values[i]
    seen[#seen + 1] = ids[i]
    seen[#seen + 1] = '1'
  end
end
if #kept == 0 then return 0 end
local kept_key, ids_key = base .. ':kept:' .. now_bucket, base .. ':ids:' .. now_bucket
hset_sliced(kept_key, kept)
hset_sliced(ids_key, seen)
redis.call('EXPIRE', kept_key, ARGV[4])
redis.call('EXPIRE', ids_key, ARGV[5])
return #kept / 2
"""
)

# ARGV: bucket, WIDTH, TTL, give-up time of a waiting label (ms), labels that may wait, then
# event id, label (JSON), joiner (the label's position) triples. Returns outcome, kept pairs.
JOIN = (
    _BUCKETS
    + """
local give_up, max_early = ARGV[4], tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV, 3 do
  local event_id, label, joiner = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local kept, key, in_bucket = find_kept(event_id)
  local outcome, value = nil, ''
  if kept and string.byte(kept, 1) == 61 then
    local cut = string.find(kept, '\\n', 1, true)
    if string.sub(kept, 2, cut - 1) == joiner then
      outcome, value = 'joined', string.sub(kept, cut + 1)
    else
      outcome = 'duplicate'
    end
  elseif kept then
    mark_joined(key, in_bucket, event_id, '=' .. joiner .. '\\n' .. kept)
    outcome, value = 'joined', kept
  elseif was_kept(event_id) then
    outcome = 'expired'
  elseif redis.call('ZSCORE', base .. ':early', event_id) then
    outcome = 'duplicate'
  elseif redis.call('ZCARD', base .. ':early') >= max_early then
    outcome = 'overflow'
  else
    redis.call('ZADD', base .. ':early', give_up, event_id)
    redis.call('HSET', base .. ':early-labels', event_id, label)
    outcome = 'early'
  end
  table.insert(out, outcome)
  table.insert(out, value)
end
return out
"""
)

# ARGV: bucket, WIDTH, TTL, now (ms), most labels to look at. Returns the labels still waiting,
# then outcome, event id, kept, label quadruples.
RETRY = (
    _BUCKETS
    + """
local now, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for _, event_id in ipairs(redis.call('ZRANGE', base .. ':early', 0, limit - 1)) do
  local kept, key, in_bucket = find_kept(event_id)
  local outcome = nil
  if kept and string.byte(kept, 1) == 61 then
    outcome, kept = 'duplicate', ''
  elseif kept then
    mark_joined(key, in_bucket, event_id, '=retry\\n' .. kept)
    outcome = 'joined'
  elseif tonumber(redis.call('ZSCORE', base .. ':early', event_id)) <= now then
    outcome, kept = 'unknown', ''
  end
  if outcome then
    local label = redis.call('HGET', base .. ':early-labels', event_id)
    redis.call('ZREM', base .. ':early', event_id)
    redis.call('HDEL', base .. ':early-labels', event_id)
    table.insert(out, outcome)
    table.insert(out, event_id)
    table.insert(out, kept)
    table.insert(out, label or '')
  end
end
table.insert(out, 1, redis.call('ZCARD', base .. ':early'))
return out
"""
)
