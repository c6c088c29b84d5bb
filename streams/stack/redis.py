"""A Redis server with its config, data and log in the state dir."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streams.adapters.redis.acl import password_hash
from streams.stack import debian, templates
from streams.stack.config import StackConfig
from streams.stack.password import password_file
from streams.stack.service import Log, Service

# Generous: a Redis restarted over a large dataset answers only after loading it (~4 GB of
# kept predictions took longer than 15 s here); a crash still ends the wait at once.
_START_TIMEOUT = 120.0


def service(config: StackConfig) -> Service:
    """Describe the Redis server of ``config`` for ``streams.stack.service``."""
    home = _home(config)
    return Service(
        name="redis",
        host=config.host,
        port=config.redis_port,
        pid_file=home / "redis.pid",
        log_file=home / "redis.log",
        # Redis rewrites its process title to "<argv0> host:port", hiding the config path.
        marker="redis-server",
        answers=lambda timeout: answers(
            config.host, config.redis_port, timeout, password=_known_password(config)
        ),
        prepare=lambda log: _prepare(config, log),
        start_timeout=_START_TIMEOUT,
        problem=lambda timeout: problem(config, timeout),
    )


def answers(host: str, port: int, timeout: float, *, password: str | None = None) -> bool:
    """Whether a Redis server at ``host:port`` answers PING (logged in with ``password``,
    so that one still loading its data set does not count: it refuses every command)."""
    client = _client(host, port, timeout, password=password)
    try:
        return bool(client.ping())
    except redis.BusyLoadingError:
        return False
    except (redis.AuthenticationError, redis.ResponseError):
        return True  # a Redis that wants another password still is a Redis
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _known_password(config: StackConfig) -> str | None:
    """The stack's Redis password, if it has one yet (a status check makes none)."""
    return config.redis_password if password_file(config.state_dir).exists() else None


def problem(config: StackConfig, timeout: float) -> str | None:
    """Why the Redis answering on ``config``'s port is not one ``up`` would start, or None.

    A Redis started before the stack had passwords answers anyone; one started from another
    state dir wants another password. Either way clients using ``config.redis_url`` would
    be wrong (open) or refused.
    """
    password = config.redis_password
    with _client(config.host, config.redis_port, timeout, password=password) as client:
        try:
            client.ping()
        except redis.AuthenticationError:
            return f"refuses the password in {password_file(config.state_dir)}"
        except (redis.RedisError, OSError):
            return None  # not answering at all is `answers`'s business
    with _client(config.host, config.redis_port, timeout) as client:
        try:
            client.ping()
        except (redis.RedisError, OSError):
            return None
    return "answers without a password"


def _client(host: str, port: int, timeout: float, *, password: str | None = None) -> redis.Redis:
    # No retries: redis-py's default retry with backoff turns "nothing listens" into seconds.
    return redis.Redis(
        host=host,
        port=port,
        username="default" if password else None,
        password=password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _home(config: StackConfig) -> Path:
    return config.state_dir / "redis"


def data_dir(config: StackConfig) -> Path:
    """Where the stack's Redis keeps its append-only file."""
    return _home(config) / "data"


def _prepare(config: StackConfig, log: Log) -> list[str]:
    binary = debian.redis_server(log)
    home = _home(config)
    aof_dir = data_dir(config)
    aof_dir.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    conf.write_text(
        templates.render(
            "redis.conf",
            host=config.host,
            port=config.redis_port,
            data_dir=aof_dir,
            password_hash=password_hash(config.redis_password),
        )
    )
    return [binary, str(conf)]
