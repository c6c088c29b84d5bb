from __future__ import annotations

from streams.adapters.dead_letter import dead_letter_headers
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
