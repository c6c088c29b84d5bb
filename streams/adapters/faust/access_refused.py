"""Access Kafka or Redis refuses the worker, and only an operator can grant: the worker stops
and says what to grant, where it used to sit idle or drop what it could not write.

aiokafka's group coordinator hands an error it cannot retry (the principal may not use the
group, the brokers refuse the session timeout) to the consumer's user, raised by the next
``AIOKafkaConsumer.getmany``, and waits until it is taken. Faust fetches past ``getmany``
and never fetches before the group has assigned partitions, so the error was never taken:
the worker stayed up, healthy to look at, in no group, consuming nothing, and said nothing.
The consumer thread takes it every second (``take_group_error``).

A write refused for want of a grant (Write on the alerts topic, a Redis ACL command) was
dropped like any permanent failure: every alert lost until an operator noticed. The
worker's writer now tells ``stop_worker`` instead (``write_refused``) and retries the write
until the stop, so the batch is never acked and is read again once the grant is there.

``stop_worker`` stops the worker as a SIGTERM does; the command then ends with the
refusal's one line and exit code 2 (``cli.py``).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any, Protocol

from aiokafka.errors import (
    GroupAuthorizationFailedError,
    InvalidSessionTimeoutError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from streams.core.errors import AccessRefused

__all__ = ["Refusable", "stop_worker", "take_group_error", "write_refused"]

logger = logging.getLogger(__name__)

_ACLS = "`driftline kafka-acl` prints every ACL a worker needs"
#: What to change, for each group error that needs it.
_REMEDIES: dict[type[KafkaError], str] = {
    GroupAuthorizationFailedError: f"grant the worker's principal Read on the group ({_ACLS})",
    TopicAuthorizationFailedError: f"grant the worker's principal Read on its topics ({_ACLS})",
    InvalidSessionTimeoutError: (
        "set DRIFTLINE_SESSION_TIMEOUT_S within the brokers' group.min.session.timeout.ms and "
        "group.max.session.timeout.ms"
    ),
}


class Refusable(Protocol):
    """The app, which keeps why the worker stopped itself (``BatchApp.refused``)."""

    refused: AccessRefused | None


def take_group_error(consumer: Any, group: str) -> None:
    """Take the error ``consumer``'s group coordinator holds, if any (aiokafka's
    ``AIOKafkaConsumer``; in the thread that runs it).

    Raises
    ------
    AccessRefused
        The error needs an operator; the message says what to change.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:  # not started yet
        return
    try:
        coordinator.check_errors()
    except KafkaError as exc:
        remedy = _REMEDIES.get(type(exc))
        if remedy is None:
            logger.warning("the Kafka consumer group %s reported %r; carrying on", group, exc)
            return
        raise AccessRefused(
            f"Kafka refuses the worker's consumer group {group!r} ({exc}): {remedy}"
        ) from exc


def write_refused(target: str, exc: BaseException) -> AccessRefused:
    """The refusal of a write to ``target`` (a topic, or ``redis``) for want of a grant."""
    if target == "redis":
        return AccessRefused(
            f"Redis refuses the worker's commands ({exc!r}): give its user what "
            "`driftline redis-acl` prints"
        )
    return AccessRefused(
        f"Kafka refuses the worker's writes to topic {target!r} ({exc!r}): grant the "
        f"worker's principal Write on it ({_ACLS})"
    )


def stop_worker(app: Refusable, refused: AccessRefused) -> None:
    """Stop the worker for ``refused``, as an operator's SIGTERM would: its own stop, then
    the command's one line. Only the first refusal counts."""
    if app.refused is not None:
        return
    app.refused = refused
    logger.error("%s; stopping", refused)
    os.kill(os.getpid(), signal.SIGTERM)
