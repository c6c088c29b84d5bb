"""A Redis server with its config, data and log in the state dir."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streams.stack import debian, templates
from streams.stack.config import StackConfig
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
        answers=lambda timeout: answers(config.host, config.redis_port, timeout),
        prepare=lambda log: _prepare(config, log),
        start_timeout=_START_TIMEOUT,
    )


def answers(host: str, port: int, timeout: float) -> bool:
    """Whether a Redis server at ``host:port`` answers PING."""
    # No retries: redis-py's default retry with backoff turns "nothing listens" into seconds.
    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except (redis.AuthenticationError, redis.ResponseError):
        return True  # a Redis that wants a password still is a Redis
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _home(config: StackConfig) -> Path:
    return config.state_dir / "redis"


def _prepare(config: StackConfig, log: Log) -> list[str]:
    binary = debian.redis_server(log)
    home = _home(config)
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    conf.write_text(
        templates.render("redis.conf", host=config.host, port=config.redis_port, data_dir=data_dir)
    )
    return [binary, str(conf)]
