"""A local Kafka broker (KRaft, single node) and Redis server for development and tests.

Both run as plain processes on ``StackConfig.host``: Kafka from jars fetched once from
Maven Central into ``cache_dir``, Redis from the ``redis-server`` binary (installed from
Debian's package when missing and we are root). Their configs, data, logs and pid files
live in ``state_dir``. ``down`` only stops what ``up`` started, as recorded in pid files;
a server somebody else runs on the same port is used and left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from streams.stack import kafka, redis, service
from streams.stack.config import StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log, Service, ServiceStatus

__all__ = ["ServiceStatus", "StackConfig", "StackError", "down", "status", "up"]


def up(config: StackConfig, log: Log = print) -> list[ServiceStatus]:
    """Start Kafka and Redis unless they already answer; wait until both do.

    Idempotent: servers that already answer (ours or not) are left as they are, and a
    pid file whose process is gone is ignored.

    Parameters
    ----------
    config
        Where and how to run them.
    log
        Receives one line per step (fetching jars, installing, starting, reusing).

    Returns
    -------
    list[ServiceStatus]
        Kafka's and Redis's status, in that order.

    Raises
    ------
    StackError
        If a server cannot be set up, started, or does not answer in time; the message
        names the server and its log, with the log's last lines.
    """
    with _exclusive(config):
        return [service.start(s, log) for s in _services(config)]


def down(config: StackConfig, log: Log = print) -> list[ServiceStatus]:
    """Stop the servers ``up`` started (SIGTERM, SIGKILL after 20 s); leave others alone.

    Parameters
    ----------
    config
        The same config ``up`` was given (its ``state_dir`` holds the pid files).
    log
        Receives one line per server.

    Returns
    -------
    list[ServiceStatus]
        Kafka's and Redis's status afterwards.
    """
    with _exclusive(config):
        return [service.stop(s, log) for s in _services(config)]


def status(config: StackConfig) -> list[ServiceStatus]:
    """Report whether Kafka and Redis answer and whether driftline started them.

    Returns
    -------
    list[ServiceStatus]
        Kafka's and Redis's status, in that order.
    """
    return [service.status(s) for s in _services(config)]


def _services(config: StackConfig) -> list[Service]:
    return [kafka.service(config), redis.service(config)]


@contextlib.contextmanager
def _exclusive(config: StackConfig) -> Iterator[None]:
    # Two `up`s at once (a test run and a terminal) would both see nothing running and
    # start two servers; the second one now waits and then finds the first one's.
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with (config.state_dir / "stack.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
