"""The state store's Lua scripts, each touching the keys of one model (one hash slot) only,
and ``SLICED``, which the duplicate filter's and the label join's scripts share."""

from __future__ import annotations

__all__ = ["FETCH", "QUARANTINE", "RAISE", "REGISTER", "SAVE", "SLICED"]

# HMGET and HSET of any number of fields, in slices: unpack's stack limit. A script's prelude.
SLICED = """
local function hmget_sliced(key, fields)
  local found = {}
  for first = 1, #fields, 4000 do
    local part = redis.call('HMGET', key, unpack(fields, first, math.min(first + 3999, #fields)))
    for j = 1, #part do found[first + j - 1] = part[j] end
  end
  return found
end

-- flat: field, value, field, value... (slices of an even length keep the pairs whole)
local function hset_sliced(key, flat)
  for first = 1, #flat, 4000 do
    redis.call('HSET', key, unpack(flat, first, math.min(first + 3999, #flat)))
  end
end
"""

# Renames each existing key of KEYS[2i-1] to KEYS[2i] and gives it the TTL: all or nothing.
QUARANTINE = """
local moved = {}
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i + 1], tonumber(ARGV[1]))
    table.insert(moved, KEYS[i])
  end
end
return moved
"""

SAVE = """
local ttl = tonumber(ARGV[1])
-- A retry of a save whose reply was lost (a timeout after the server ran it) finds its own
-- token: the batch is saved, not overtaken by another worker.
local token = ARGV[#ARGV]
local written = redis.call('GET', KEYS[3])
if written == token then
  return 1
end
-- Compare and set: the writer's state was built on the save with token ``expected`` ('' for
-- none, '*' not checked). Another save since (a worker paused past a rebalance, or the new
-- owner that read before it woke) means this state is stale: refused (0), to be rebuilt.
-- No save at all where one was expected means the model's keys are gone (Redis lost them,
-- or they expired): refused too, but told apart (2): the writer holds the newest state.
local expected = ARGV[#ARGV - 1]
if expected ~= '*' and (written or '') ~= expected then
  if not written then
    return 2
  end
  return 0
end
local partitions = tonumber(ARGV[2])
local arg = 3 + 2 * partitions
local sources = tonumber(ARGV[arg])
local first_source = arg + 1
arg = arg + 1 + 2 * sources
local updates = tonumber(ARGV[arg])
arg = arg + 1
for k = 5, 4 + 3 * updates, 3 do
  redis.call('SET', KEYS[k], ARGV[arg], 'EX', ttl)
  local chunks = tonumber(ARGV[arg + 3])
  if ARGV[arg + 1] ~= '' then
    -- The profile holds the reference, this batch's last chunks included: drop the chunks.
    redis.call('SET', KEYS[k + 1], ARGV[arg + 1], 'EX', ttl)
    redis.call('DEL', KEYS[k + 2])
  else
    -- Every chunk gathered, written again where Redis lost some: they replace the stored.
    if ARGV[arg + 2] ~= '' then
      redis.call('DEL', KEYS[k + 2])
    end
    for c = 1, chunks do
      redis.call('RPUSH', KEYS[k + 2], ARGV[arg + 3 + c])
    end
    if chunks > 0 then
      redis.call('EXPIRE', KEYS[k + 2], ttl)
    end
  end
  arg = arg + 4 + chunks
end
for k = 5 + 3 * updates, #KEYS do
  redis.call('DEL', KEYS[k])
end
-- The model's rollout (canary) state, when the batch changed it: with the state it counts.
local rollout = ARGV[#ARGV - 2]
if rollout ~= '' then
  redis.call('SET', KEYS[4], rollout, 'EX', ttl)
end
-- The fence is raised, never lowered: a batch's partitions that held none of this model's
-- records may be behind what an earlier batch stored.
-- A stored value that is not a number (written by something else) is replaced.
local function raise(key, field, offset)
  local stored = tonumber(redis.call('HGET', key, field))
  if not stored or stored < tonumber(offset) then
    redis.call('HSET', key, field, offset)
  end
end
for i = 1, partitions do
  raise(KEYS[1], ARGV[2 + 2 * i - 1], ARGV[2 + 2 * i])
end
for i = 0, sources - 1 do
  raise(KEYS[2], ARGV[first_source + 2 * i], ARGV[first_source + 2 * i + 1])
end
redis.call('SET', KEYS[3], token, 'EX', ttl)
return 1
"""


# A model version's state, profile and reference chunks, read at one instant.
FETCH = """
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]),
        redis.call('LRANGE', KEYS[3], 0, -1)}
"""

# A profile from training data (no TTL) replaces the reference chunks it makes useless.
REGISTER = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""

# Raises each field ARGV[2i-1] of hash KEYS[1] to ARGV[2i], never lowers it (a low-water
# mark that a slower worker must not move back).
RAISE = """
for i = 1, #ARGV, 2 do
  local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if not stored or stored < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""
