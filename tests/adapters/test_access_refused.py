"""Which of the group coordinator's errors stop the worker (those only an operator can
mend) and which it carries on after. The stops against a real broker that enforces ACLs:
tests/integration/test_secure_kafka.py."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    InvalidSessionTimeoutError,
    KafkaError,
    RebalanceInProgressError,
    TopicAuthorizationFailedError,
)

from streams.adapters.faust.access_refused import take_group_error
from streams.core.errors import AccessRefused


class Coordinator:
    """Holds one error for the user, as aiokafka's does, until it is taken."""

    def __init__(self, error: KafkaError | None) -> None:
        self.error = error

    def check_errors(self) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error


class Consumer:
    def __init__(self, error: KafkaError | None) -> None:
        self._coordinator = Coordinator(error)


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (GroupAuthorizationFailedError("g"), "Read on the group"),
        (TopicAuthorizationFailedError({"t"}), "Read on its topics"),
        (InvalidSessionTimeoutError(), "DRIFTLINE_SESSION_TIMEOUT_S within"),
    ],
)
def test_an_error_only_an_operator_mends_stops_the_worker_saying_what_to_change(error, says):
    with pytest.raises(AccessRefused, match=says) as refused:
        take_group_error(Consumer(error), "g")
    assert "consumer group 'g'" in str(refused.value)


def test_any_other_error_is_taken_logged_and_carried_on_from(caplog):
    consumer = Consumer(RebalanceInProgressError())
    with caplog.at_level(logging.WARNING):
        take_group_error(consumer, "g")
    assert consumer._coordinator.error is None  # taken: the coordinator goes on
    assert "RebalanceInProgressError" in caplog.text and "carrying on" in caplog.text


def test_nothing_held_or_no_consumer_yet_is_nothing(caplog):
    with caplog.at_level(logging.DEBUG):
        take_group_error(Consumer(None), "g")  # would raise AccessRefused or log if it judged
        take_group_error(None, "g")  # before the consumer starts: no coordinator to ask
    assert caplog.records == []
