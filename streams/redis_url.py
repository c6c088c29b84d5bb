"""Which ``DRIFTLINE_REDIS_URL`` names a Redis Cluster: read by the settings' checks and by
the client (``adapters/redis/client.py``), without importing redis-py for the former.

A cluster is named by the scheme ``redis+cluster://`` (or ``rediss+cluster://`` for TLS):
any node's address, the rest as for one server.
"""

from __future__ import annotations

__all__ = ["cluster_url"]

_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def cluster_url(url: str) -> str | None:
    """The plain ``redis://``/``rediss://`` URL if ``url`` names a cluster, else None.

    >>> cluster_url("redis+cluster://127.0.0.1:7000")
    'redis://127.0.0.1:7000'
    >>> cluster_url("redis://127.0.0.1:6379/0") is None
    True
    """
    scheme, sep, rest = url.partition("://")
    plain = _CLUSTER_SCHEMES.get(scheme.lower())
    return None if plain is None or not sep else f"{plain}://{rest}"
