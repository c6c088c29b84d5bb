"""A local Kafka (KRaft: one node, or a cluster of 3 or 5) and Redis for development and tests.

Both run as plain processes on ``StackConfig.host``: Kafka from jars fetched once from
Maven Central into ``cache_dir``, Redis from the ``redis-server`` binary (installed from
Debian's package when missing and we are root). Their configs, data, logs and pid files
live in ``state_dir``. ``down`` only stops what ``up`` started, as recorded in pid files;
a server somebody else runs on the same port is used and left alone.

``secure`` stacks give the broker a SASL_SSL listener (SCRAM-SHA-512 user ``driftline``, a
CA and certificates made with openssl) in a data dir of its own, ``state_dir/kafka-secure``:
SCRAM users can only be added when a data dir is formatted. Run ``down`` before switching
between a plain and a secure ``up`` (both use the same plain and controller ports).

``kafka_brokers`` 3 (or 5) runs that many nodes, each its own process, port and data dir
(``state_dir/kafka-3brokers/node-K``); ``up`` launches them all before waiting for any, as
the quorum answers only once a majority runs. ``down`` stops the nodes of any cluster size.

The servers' modules are imported where they are used: they import the Kafka and Redis
clients (~0.1 s), and every ``driftline`` command reads ``StackConfig`` for its help.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
from collections.abc import Iterator

from streams.stack import process, service
from streams.stack.config import StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log, Service, ServiceStatus

__all__ = [
    "ServiceStatus",
    "StackConfig",
    "StackError",
    "down",
    "secure_client_env",
    "status",
    "up",
]


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
        Each Kafka node's status, node 1 first, then Redis's.

    Raises
    ------
    StackError
        If a server cannot be set up, started, or does not answer in time; the message
        names the server and its log, with the log's last lines.
    """
    from streams.stack import kafka, redis

    with _exclusive(config):
        return [*service.start_all(kafka.services(config), log),
                service.start(redis.service(config), log)]  # fmt: skip


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
        Each Kafka node's status afterwards, then Redis's.
    """
    from streams.stack import kafka

    with _exclusive(config):
        # Whichever Kafka `up` started, one node plain or secure or a cluster of any size
        # (each has its own pid files).
        for secure in (False, True):
            single = dataclasses.replace(config, secure=secure, kafka_brokers=1)
            other = kafka.service(single)
            if single != config and process.live_pid(other.pid_file, other.marker) is not None:
                service.stop(other, log)
        service.stop_all(kafka.stray_nodes(config), log)
        return service.stop_all(_services(config), log)


def status(config: StackConfig) -> list[ServiceStatus]:
    """Report whether Kafka and Redis answer and whether driftline started them.

    Returns
    -------
    list[ServiceStatus]
        Each Kafka node's status, node 1 first, then Redis's, then those of the live
        nodes of a cluster of another size (``kafka.stray_nodes``).
    """
    from streams.stack import kafka

    return [service.status(s) for s in [*_services(config), *kafka.stray_nodes(config)]]


def secure_client_env(config: StackConfig) -> dict[str, str]:
    """The ``DRIFTLINE_KAFKA_*`` settings a client of a secure stack needs.

    The password is given by file (``_PASSWORD_FILE``), so printing these shows no secret.
    """
    from streams.stack import kafka

    ca_pem, password_file = kafka.secure_client_files(config)
    return {
        "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_secure_bootstrap,
        "DRIFTLINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "DRIFTLINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "DRIFTLINE_KAFKA_SASL_USERNAME": kafka.SCRAM_USER,
        "DRIFTLINE_KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "DRIFTLINE_KAFKA_SSL_CA_FILE": str(ca_pem),
    }


def _services(config: StackConfig) -> list[Service]:
    from streams.stack import kafka, redis

    return [*kafka.services(config), redis.service(config)]


@contextlib.contextmanager
def _exclusive(config: StackConfig) -> Iterator[None]:
    # Two `up`s at once (a test run and a terminal) would both see nothing running and
    # start two servers; the second one now waits and then finds the first one's.
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with (config.state_dir / "stack.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
