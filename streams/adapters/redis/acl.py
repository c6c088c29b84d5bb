"""The least a Redis ACL user needs to run Driftline: its prefix's keys and these commands.

A shared Redis holds other services' data; a worker (or whoever steals its credentials) should
reach only ``<prefix>:*`` and run only what Driftline runs. ``COMMANDS`` is that list, kept
next to the code that issues them (a test checks every ``redis.call`` of our Lua scripts is
in it, and the TLS integration test runs a worker under exactly this rule):

- redis-py calls: ``GET``/``SET``/``LRANGE`` and ``MULTI``/``EXEC`` (monitor state),
  ``HMGET`` (applied offsets), ``HGETALL``/``HSET``/``HSETNX`` (specs), ``PING`` (``/health``)
- scripts: ``EVALSHA``, and ``SCRIPT LOAD``/``SCRIPT EXISTS``, which redis-py sends when the
  server lacks a script (after a restart or failover)
- inside the scripts (state store and label join): ``HGET``, ``HMGET``, ``HSET``, ``HDEL``,
  ``HEXISTS``, ``SET``, ``GET``, ``DEL``, ``EXISTS``, ``RPUSH``, ``EXPIRE``, ``ZADD``,
  ``ZCARD``, ``ZRANGE``, ``ZREM``, ``ZSCORE``; the warm-up slots' ``ZREMRANGEBYSCORE`` and
  ``PEXPIRE``; the quarantine's ``EXISTS`` and ``RENAME`` (within the prefix: a key is
  renamed to ``<key>:quarantined:<ts>``)
- ``PTTL`` (state stored under the key names of before is moved with its TTL:
  ``legacy_keys.py``); ``CLUSTER SLOTS`` and ``COMMAND``, which redis-py's ``RedisCluster``
  sends on connect to learn the slot map and the key positions (unused on one server)
- ``SELECT`` (a URL naming a database other than 0) and ``DISCARD`` (redis-py ends a failed
  transaction with it)

``AUTH`` and ``HELLO`` need no permission. redis-py's ``CLIENT SETINFO`` on connect is left
out: it is optional and redis-py ignores its refusal. So is ``INFO``, which a worker sends
once at start to warn of an evicting Redis (``eviction.py``): refused, it warns of nothing.
None of these is in ``@dangerous``.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["COMMANDS", "UNGRANTED", "acl_rules", "aclfile_line", "password_hash",
           "setuser_command"]  # fmt: skip

COMMANDS: tuple[str, ...] = (
    "ping", "select", "multi", "exec", "discard",
    "evalsha", "script|load", "script|exists",
    "get", "set", "del", "exists", "rename", "expire", "pexpire", "rpush", "lrange",
    "hget", "hmget", "hgetall", "hset", "hsetnx", "hdel", "hexists",
    "zadd", "zcard", "zrange", "zrem", "zremrangebyscore", "zscore",
    "pttl", "cluster|slots", "command",
    "wait",  # DRIFTLINE_REDIS_REPLICAS: streams/adapters/redis/replicas.py
    "setbit",  # driftline redrive's marks: streams/adapters/redis/redrive_marks.py
)  # fmt: skip
#: Sent, but not granted: refused, the worker does without (``INFO``: the eviction warning).
UNGRANTED: tuple[str, ...] = ("info",)

# A user name goes into an ACL line as one token; keep it to plain characters.
_USER = re.compile(r"^[A-Za-z0-9_.@-]+$")
# Glob-special characters of a key pattern, escaped so the prefix matches only itself.
_GLOB = re.compile(r"([\\*?\[\]])")


def acl_rules(prefix: str) -> list[str]:
    """ACL rules (without user and password) granting ``<prefix>:*`` and ``COMMANDS`` only.

    ``resetkeys``/``resetchannels``/``-@all`` first, so the rule also narrows an existing
    user instead of adding to what it had.

    Raises
    ------
    ValueError
        If ``prefix`` is empty or holds whitespace (it would split the rule).
    """
    if not prefix or any(c.isspace() for c in prefix):
        raise ValueError(f"a Redis key prefix must be non-empty, without spaces: {prefix!r}")
    pattern = _GLOB.sub(r"\\\1", prefix)
    return ["resetkeys", f"~{pattern}:*", "resetchannels", "-@all",
            *(f"+{command}" for command in COMMANDS)]  # fmt: skip


def password_hash(password: str) -> str:
    """The ``#<sha256>`` form of ``password``: an ACL line that does not reveal it."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def setuser_command(user: str, password: str, prefix: str) -> list[str]:
    """``ACL SETUSER`` arguments for ``user``, e.g. for redis-py's ``execute_command``."""
    return ["ACL", "SETUSER", _checked(user), "reset", "on", password_hash(password),
            *acl_rules(prefix)]  # fmt: skip


def aclfile_line(user: str, password: str, prefix: str) -> str:
    """The same user as a line of an ACL file (``aclfile`` in redis.conf)."""
    return " ".join(["user", _checked(user), "on", password_hash(password), *acl_rules(prefix)])


def _checked(user: str) -> str:
    if not _USER.fullmatch(user):
        raise ValueError(f"a Redis user name of letters, digits, '_.@-' expected: {user!r}")
    return user
