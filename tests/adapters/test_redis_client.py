"""The client ``connect`` gives: commands packed by hiredis, byte for byte what redis-py's own
packer sends, with its errors; TLS and cluster URLs keep their kinds of connection."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import DataError

from streams.adapters.redis.client import connect

COMMANDS = [
    ("EVALSHA", "a" * 40, 1, "dl:{churn}", 123, 4, 5.25, "évé-1", b'{"score":0.8}', "e2", b""),
    ("CONFIG GET", "maxmemory"),  # two words in the command's name: sent as two arguments
    ("HSET", "k", "f", memoryview(b"from a buffer")),
    ("SET", "k", "x" * 20_000),  # past redis-py's buffer cut-off: sent in chunks there
]


def python_packed(*args) -> bytes:
    return b"".join(Connection().pack_command(*args))


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "unix:///tmp/no.sock"])
def test_commands_are_packed_by_hiredis_exactly_as_redis_py_packs_them(url):
    connection = connect(url).connection_pool.make_connection()
    assert type(connection).__name__.startswith("HiredisPacking")
    for args in COMMANDS:
        assert b"".join(connection.pack_command(*args)) == python_packed(*args)
    pipeline = connection.pack_commands(COMMANDS)
    assert b"".join(pipeline) == b"".join(python_packed(*args) for args in COMMANDS)


@pytest.mark.parametrize("bad", [True, {"a": 1}, None])
def test_an_argument_redis_cannot_take_is_refused_as_redis_py_refuses_it(bad):
    connection = connect("redis://127.0.0.1:1/0").connection_pool.make_connection()
    with pytest.raises(DataError):
        connection.pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)


def test_tls_keeps_its_connection_and_a_cluster_its_client():
    tls = connect("rediss://127.0.0.1:1/0").connection_pool.make_connection()
    assert isinstance(tls, SSLConnection)
    assert b"".join(tls.pack_command(*COMMANDS[0])) == python_packed(*COMMANDS[0])
    assert isinstance(connect("redis+cluster://127.0.0.1:1"), RedisCluster)
