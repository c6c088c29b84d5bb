"""Is a failed write worth retrying? Kafka and Redis errors sorted into retriable or permanent.

A retriable error (a timeout, a leader moving, a lost connection, too few in-sync replicas)
goes away by itself, so waiting and writing again is right. A permanent one (a record too
large for the topic, an invalid topic name, a missing ACL) fails the same way every time:
retrying it stalls the partition forever. ``DurableWriter`` retries only the first kind.

librdkafka's (confluent-kafka, the routing stage's producer) come as a ``KafkaException``
holding a ``KafkaError`` code. Faust wraps aiokafka's errors (``ProducerSendError`` from
``MessageSizeTooLargeError``) and our stores wrap redis-py's (``StoreUnavailable`` from
``ConnectionError``), so the chain of causes is searched for the first error we know.
"""

from __future__ import annotations

from aiokafka import errors as kafka_errors
from confluent_kafka import KafkaError, KafkaException
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
#: Permanent librdkafka error codes, by reason; any other code is retriable if librdkafka
#: says so or it is one of ``_RETRIABLE_LIBRDKAFKA``, else permanent ("rejected").
_PERMANENT_LIBRDKAFKA: dict[int, str] = {
    KafkaError.MSG_SIZE_TOO_LARGE: "too_large",
    KafkaError.RECORD_LIST_TOO_LARGE: "too_large",
    KafkaError.TOPIC_EXCEPTION: "invalid_topic",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "authorization",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "authorization",
    KafkaError.SASL_AUTHENTICATION_FAILED: "authorization",
    KafkaError._AUTHENTICATION: "authorization",
    KafkaError._INVALID_ARG: "configuration",
}
#: Local librdkafka outcomes that pass: a record that timed out waiting for a broker, a
#: topic or partition not (yet) in the metadata, brokers down. A fatal error of the
#: idempotent producer passes too: the producer is replaced and the records sent again.
_RETRIABLE_LIBRDKAFKA = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN, KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION, KafkaError._FATAL, KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE, KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION,
    KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
})  # fmt: skip
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
        if isinstance(cause, KafkaException) and isinstance(cause.args[0], KafkaError):
            return _librdkafka_reason(cause.args[0])
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


def _librdkafka_reason(error: KafkaError) -> str:
    code = error.code()
    if code in _PERMANENT_LIBRDKAFKA:
        return _PERMANENT_LIBRDKAFKA[code]
    if error.retriable() or error.fatal() or code in _RETRIABLE_LIBRDKAFKA:
        return "retriable"
    return "rejected"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
