from __future__ import annotations

import hashlib

from aiokafka.errors import MessageSizeTooLargeError, TopicAuthorizationFailedError

from streams.adapters.kafka.dead_letter import (
    RESCUE_VALUE_BYTES,
    dead_letter_headers,
    dead_letter_message,
    rescue,
    truncated_copy,
)
from streams.core import EventDecoder, Ingestor, SpecRegistry
from tests.core.conftest import RECORD_TIME_MS, event_dict, record


def test_headers_say_where_the_record_came_from_and_why():
    bad = record(event_dict(score="12,5"), offset=42)
    (rejection,) = Ingestor(EventDecoder(), SpecRegistry()).ingest([bad]).rejected
    headers = dict(dead_letter_headers(rejection))
    assert headers["driftline.dlq.original.topic"] == b"predictions"
    assert headers["driftline.dlq.original.partition"] == b"0"
    assert headers["driftline.dlq.original.offset"] == b"42"
    assert headers["driftline.dlq.original.timestamp"] == str(RECORD_TIME_MS).encode()
    assert headers["driftline.dlq.reason"] == b"wrong_type"
    assert headers["driftline.dlq.field"] == b"score"
    assert headers["driftline.dlq.exception.class"] == b"streams.core.errors.InvalidEvent"
    assert headers["driftline.dlq.exception.message"] == b"score: expected a number, got '12,5'"
    assert headers["__connect.errors.offset"] == b"42"
    assert headers["__connect.errors.exception.class.name"] == b"streams.core.errors.InvalidEvent"
    assert "driftline.dlq.model_id" not in headers


def test_long_messages_are_cut_to_a_header_sized_text():
    garbage = b"{" + b"x" * 5000
    (rejection,) = Ingestor(EventDecoder(), SpecRegistry()).ingest([record(garbage)]).rejected
    assert len(dict(dead_letter_headers(rejection))["driftline.dlq.exception.message"]) <= 1024


def test_a_value_over_the_limit_is_dead_lettered_as_a_truncated_copy():
    big = b"{" + bytes(range(256)) * 4000
    (rejection,) = Ingestor(EventDecoder(), SpecRegistry()).ingest([record(big)]).rejected
    key, value, headers = dead_letter_message(rejection, max_value_bytes=4096)
    found = dict(headers)
    assert value == big[:4096]
    assert found["driftline.dlq.original.length"] == str(len(big)).encode()
    assert found["driftline.dlq.original.sha256"] == hashlib.sha256(big).hexdigest().encode()
    assert found["driftline.dlq.truncated"] == b"too_large"
    assert found["driftline.dlq.reason"] == b"too_large"
    # Cut again (the broker refused the first copy): the original's length and hash stay.
    _, again, headers = truncated_copy((key, value, headers), 100)
    assert again == big[:100]
    assert dict(headers)["driftline.dlq.original.length"] == str(len(big)).encode()
    assert [name for name, _ in headers].count("driftline.dlq.original.sha256") == 1


def test_a_value_within_the_limit_goes_whole():
    small = record(event_dict(score="x"))
    (rejection,) = Ingestor(EventDecoder(), SpecRegistry()).ingest([small]).rejected
    _, value, headers = dead_letter_message(rejection, max_value_bytes=1 << 20)
    assert value == small.value
    assert "driftline.dlq.truncated" not in dict(headers)


def test_only_a_size_error_is_rescued_by_a_copy():
    message = (b"k", b"v" * 200_000, [("driftline.dlq.reason", b"too_large")])
    copy = rescue(message, MessageSizeTooLargeError())
    assert copy is not None and len(copy[1]) == RESCUE_VALUE_BYTES
    assert rescue(message, TopicAuthorizationFailedError()) is None
