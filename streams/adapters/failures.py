"""Is a failed write worth retrying? Kafka and Redis errors sorted into retriable or permanent.

A retriable error (a timeout, a leader moving, a lost connection, too few in-sync replicas)
goes away by itself, so waiting and writing again is right. A permanent one (a record too
large for the topic, an invalid topic name, a missing ACL) fails the same way every time:
retrying it stalls the partition forever. ``DurableWriter`` retries only the first kind.

Faust wraps aiokafka's errors (``ProducerSendError`` from ``MessageSizeTooLargeError``) and
our stores wrap redis-py's (``StoreUnavailable`` from ``ConnectionError``), so the chain of
causes is searched for the first error we know.
"""

from __future__ import annotations

from aiokafka import errors as kafka_errors
from redis import exceptions as redis_errors

__all__ = ["failure_reason", "is_retriable"]

#: Permanent Kafka errors, and the reason label each is counted under.
_PERMANENT_KAFKA: dict[type[BaseException], str] = {
    kafka_errors.MessageSizeTooLargeError: "too_large",
    kafka_errors.RecordListTooLargeError: "too_large",
    kafka_errors.RecordTooLargeError: "too_large",
    kafka_errors.InvalidTopicError: "invalid_topic",
    kafka_errors.TopicAuthorizationFailedError: "authorization",
    kafka_errors.ClusterAuthorizationFailedError: "authorization",
    kafka_errors.GroupAuthorizationFailedError: "authorization",
    kafka_errors.TransactionalIdAuthorizationFailed: "authorization",
    kafka_errors.AuthenticationFailedError: "authorization",
    kafka_errors.UnsupportedCodecError: "configuration",
    kafka_errors.KafkaConfigurationError: "configuration",
}
#: Kafka errors aiokafka does not flag retriable that still pass by themselves.
_RETRIABLE_KAFKA = (kafka_errors.KafkaTimeoutError, kafka_errors.RequestTimedOutError)
_PERMANENT_REDIS: dict[type[BaseException], str] = {
    redis_errors.AuthenticationError: "authorization",
    redis_errors.AuthorizationError: "authorization",
    redis_errors.NoPermissionError: "authorization",
}
#: Not a Kafka or Redis error, but a wait that ran out or a socket that failed: retriable.
_RETRIABLE_OTHER = (TimeoutError, ConnectionError, OSError)


def is_retriable(exc: BaseException) -> bool:
    """Whether writing again later may succeed where ``exc`` failed.

    An error we do not recognise anywhere in the chain is permanent: retrying an unknown
    failure forever is how a partition stalls without anyone being told.
    """
    return failure_reason(exc) == "retriable"


def failure_reason(exc: BaseException) -> str:
    """``"retriable"``, or a short permanent reason safe as a metric label.

    One of ``too_large``, ``invalid_topic``, ``authorization``, ``configuration``,
    ``rejected`` (another permanent broker error) or ``unexpected``.
    """
    for cause in _causes(exc):
        for kind, reason in (*_PERMANENT_KAFKA.items(), *_PERMANENT_REDIS.items()):
            if isinstance(cause, kind):
                return reason
        if isinstance(cause, _RETRIABLE_KAFKA):
            return "retriable"
        if isinstance(cause, kafka_errors.KafkaError):
            return "retriable" if cause.retriable else "rejected"
        if isinstance(cause, redis_errors.RedisError):
            # Connection and timeout errors, a Redis still loading, an OOM answer: all pass.
            return "retriable"
        if isinstance(cause, _RETRIABLE_OTHER):
            return "retriable"
    return "unexpected"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
