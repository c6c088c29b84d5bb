"""Which failed writes are retried: real exception classes of aiokafka, Faust and redis-py."""

from __future__ import annotations

import pytest
from aiokafka import errors as kafka_errors
from confluent_kafka import KafkaError, KafkaException
from faust.exceptions import ProducerSendError
from redis import exceptions as redis_errors

from streams.adapters.failures import failure_reason, is_retriable
from streams.core.errors import StoreUnavailable


def wrapped(outer: type[Exception], inner: BaseException) -> Exception:
    """``outer`` raised ``from inner``, as Faust and our stores do."""
    try:
        raise outer("wrapped") from inner
    except outer as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (kafka_errors.MessageSizeTooLargeError(), "too_large"),
        (kafka_errors.RecordTooLargeError(), "too_large"),
        (kafka_errors.RecordListTooLargeError(), "too_large"),
        (kafka_errors.InvalidTopicError(), "invalid_topic"),
        (kafka_errors.TopicAuthorizationFailedError(), "authorization"),
        (kafka_errors.ClusterAuthorizationFailedError(), "authorization"),
        (redis_errors.AuthenticationError(), "authorization"),
        (redis_errors.NoPermissionError(), "authorization"),
        (kafka_errors.UnsupportedVersionError(), "rejected"),
        (ValueError("a bug"), "unexpected"),
    ],
)
def test_permanent_errors_are_not_retried(error, reason):
    assert failure_reason(error) == reason
    assert not is_retriable(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.LeaderNotAvailableError(),
        kafka_errors.NotEnoughReplicasError(),
        kafka_errors.KafkaConnectionError(),
        kafka_errors.NodeNotReadyError(),
        redis_errors.ConnectionError(),
        redis_errors.TimeoutError(),
        redis_errors.BusyLoadingError(),
        TimeoutError(),
        ConnectionRefusedError(),
    ],
)
def test_passing_errors_are_retried(error):
    assert is_retriable(error)


def test_the_cause_behind_a_wrapper_decides():
    size = wrapped(ProducerSendError, kafka_errors.MessageSizeTooLargeError())
    assert failure_reason(size) == "too_large"
    assert is_retriable(wrapped(ProducerSendError, kafka_errors.NotLeaderForPartitionError()))
    assert is_retriable(wrapped(StoreUnavailable, redis_errors.ConnectionError("refused")))
    assert failure_reason(wrapped(StoreUnavailable, redis_errors.NoPermissionError())) == (
        "authorization"
    )
    assert not is_retriable(StoreUnavailable("no cause at all"))


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (KafkaError.MSG_SIZE_TOO_LARGE, "too_large"),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, "authorization"),
        (KafkaError._AUTHENTICATION, "authorization"),
        (KafkaError.TOPIC_EXCEPTION, "invalid_topic"),
        (KafkaError.INVALID_REQUIRED_ACKS, "rejected"),
        (KafkaError._MSG_TIMED_OUT, "retriable"),
        (KafkaError._ALL_BROKERS_DOWN, "retriable"),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, "retriable"),
        (KafkaError.NOT_LEADER_FOR_PARTITION, "retriable"),
    ],
)
def test_librdkafka_errors_are_sorted_by_code(code, reason):
    # The routing stage's producer (confluent-kafka) reports a KafkaException with a code.
    assert failure_reason(KafkaException(KafkaError(code))) == reason


def test_a_fatal_librdkafka_error_is_retried_with_a_new_producer():
    fatal = KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, fatal=True)
    assert fatal.fatal()
    assert failure_reason(KafkaException(fatal)) == "retriable"
