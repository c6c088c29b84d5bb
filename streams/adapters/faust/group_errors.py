"""The consumer group's errors that no retry mends, taken from aiokafka and made a stop.

aiokafka's group coordinator hands an error it cannot retry (the principal may not use the
group, the brokers refuse the session timeout) to the consumer's user, raised by the next
``AIOKafkaConsumer.getmany``, and waits until it is taken. Faust fetches past ``getmany``
and never fetches before the group has assigned partitions, so the error was never taken:
the worker stayed up, healthy to look at, in no group, consuming nothing, and said nothing.
The consumer thread takes it every second (``take_group_error``); one that needs an
operator stops the worker with a line saying what to change, any other is logged and the
coordinator goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import (
    GroupAuthorizationFailedError,
    InvalidSessionTimeoutError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from streams.core.errors import DriftlineError

__all__ = ["GroupRefused", "take_group_error"]

logger = logging.getLogger(__name__)

_ACLS = "`driftline kafka-acl` prints every ACL a worker needs"
#: What to change, for each error that needs it.
_REMEDIES: dict[type[KafkaError], str] = {
    GroupAuthorizationFailedError: f"grant the worker's principal Read on the group ({_ACLS})",
    TopicAuthorizationFailedError: f"grant the worker's principal Read on its topics ({_ACLS})",
    InvalidSessionTimeoutError: (
        "set DRIFTLINE_SESSION_TIMEOUT_S within the brokers' group.min.session.timeout.ms and "
        "group.max.session.timeout.ms"
    ),
}


class GroupRefused(DriftlineError):
    """Kafka refuses the worker's consumer group, and only an operator can change that."""


def take_group_error(consumer: Any, group: str) -> None:
    """Take the error ``consumer``'s group coordinator holds, if any (aiokafka's
    ``AIOKafkaConsumer``; in the thread that runs it).

    Raises
    ------
    GroupRefused
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
        message = f"Kafka refuses the worker's consumer group {group!r} ({exc}): {remedy}"
        logger.error("%s; stopping", message)
        raise GroupRefused(message) from exc
