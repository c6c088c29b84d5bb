from __future__ import annotations

import orjson
import pytest

from streams.core.contract.decoder import EventDecoder
from streams.core.errors import InvalidEvent, Reason
from tests.core.conftest import RECORD_TIME_MS, event_dict, record


def decode(value, **limits):
    return EventDecoder(**limits).decode(record(value))


def reason_of(value, **limits) -> Reason:
    with pytest.raises(InvalidEvent) as caught:
        decode(value, **limits)
    return caught.value.reason


def test_a_valid_event_is_decoded_field_by_field():
    event = decode(event_dict(latency_ms=12.5, attributes={"region": "eu"}, trace_id="t-9"))
    assert event.event_id == "evt-1"
    assert (event.model_id, event.model_version) == ("churn", "v3")
    assert event.timestamp_ms == 1_795_420_800_250
    assert event.features["plan"] == "gold"
    assert (event.prediction, event.score, event.latency_ms) == (1, 0.83, 12.5)
    assert event.attributes == {"region": "eu"}
    assert event.trace_id == "t-9"


def test_the_record_time_stands_in_for_a_missing_timestamp():
    assert decode(event_dict(timestamp=None)).timestamp_ms == RECORD_TIME_MS


@pytest.mark.parametrize(
    ("stamp", "expected_ms"),
    [
        ("2026-11-23T10:00:00+02:00", 1_795_420_800_000),
        ("2026-11-23t08:00:00.123456789z", 1_795_420_800_123),
        ("2026-11-23T08:00:00.5Z", 1_795_420_800_500),
    ],
)
def test_rfc3339_timestamps_with_offsets_and_any_precision(stamp, expected_ms):
    assert decode(event_dict(timestamp=stamp)).timestamp_ms == expected_ms


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", Reason.EMPTY),
        (None, Reason.EMPTY),
        (b"not json at all", Reason.NOT_JSON),
        (b'{"event_id": "a",', Reason.NOT_JSON),
        (b"\xff\xfe{}", Reason.INVALID_UTF8),
        (b'{"event_id": "\xc3\x28"}', Reason.INVALID_UTF8),
        (b'{"x": NaN}', Reason.NON_FINITE_NUMBER),
        (b'{"x": Infinity}', Reason.NON_FINITE_NUMBER),
        (b'{"x": -Infinity}', Reason.NON_FINITE_NUMBER),
        (b'{"x": 1e999}', Reason.NON_FINITE_NUMBER),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b'"a string"', Reason.NOT_AN_OBJECT),
        (b"42", Reason.NOT_AN_OBJECT),
        (b"null", Reason.NOT_AN_OBJECT),
    ],
)
def test_records_that_are_not_a_json_object(value, reason):
    assert reason_of(value) is reason


@pytest.mark.parametrize(
    "field", ["event_id", "model_id", "model_version", "features", "prediction"]
)
def test_each_required_field(field):
    with pytest.raises(InvalidEvent) as caught:
        decode(event_dict(**{field: None}))
    assert caught.value.reason is Reason.MISSING_FIELD
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("overrides", "reason", "field"),
    [
        ({"score": "12,5"}, Reason.WRONG_TYPE, "score"),
        ({"score": True}, Reason.WRONG_TYPE, "score"),
        ({"event_id": 7}, Reason.WRONG_TYPE, "event_id"),
        ({"event_id": "x" * 129}, Reason.INVALID_VALUE, "event_id"),
        ({"model_id": "../../etc/passwd"}, Reason.INVALID_VALUE, "model_id"),
        ({"model_id": "m" * 65}, Reason.INVALID_VALUE, "model_id"),
        ({"model_version": "v 1"}, Reason.INVALID_VALUE, "model_version"),
        ({"features": [1, 2]}, Reason.WRONG_TYPE, "features"),
        ({"features": {"age": {"years": 4}}}, Reason.WRONG_TYPE, "features.age"),
        ({"features": {"age": [4]}}, Reason.WRONG_TYPE, "features.age"),
        ({"features": {"note": "x" * 1025}}, Reason.INVALID_VALUE, "features.note"),
        ({"prediction": {"label": 1}}, Reason.WRONG_TYPE, "prediction"),
        ({"prediction": None}, Reason.MISSING_FIELD, "prediction"),
        ({"timestamp": "23/11/2026"}, Reason.INVALID_VALUE, "timestamp"),
        ({"timestamp": "2026-11-23T08:00:00"}, Reason.INVALID_VALUE, "timestamp"),
        ({"timestamp": "2026-13-45T08:00:00Z"}, Reason.INVALID_VALUE, "timestamp"),
        ({"timestamp": 1795420800}, Reason.WRONG_TYPE, "timestamp"),
        ({"latency_ms": -1}, Reason.OUT_OF_RANGE, "latency_ms"),
        ({"attributes": {"group": {"a": 1}}}, Reason.WRONG_TYPE, "attributes.group"),
        ({"attributes": {f"a{i}": i for i in range(33)}}, Reason.INVALID_VALUE, "attributes"),
        ({"predicton": 1}, Reason.UNKNOWN_FIELD, "predicton"),
    ],
)
def test_fields_with_the_wrong_type_or_value(overrides, reason, field):
    with pytest.raises(InvalidEvent) as caught:
        decode(event_dict(**overrides))
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_an_explicit_null_for_an_optional_field_is_a_type_error():
    raw = orjson.dumps(event_dict()).replace(b'"score":0.83', b'"score":null')
    assert reason_of(raw) is Reason.WRONG_TYPE


def test_too_many_features():
    features = {f"f{i}": float(i) for i in range(5000)}
    assert reason_of(event_dict(features=features), max_message_bytes=1 << 20) is (
        Reason.TOO_MANY_FEATURES
    )
    assert (
        len(
            decode(
                event_dict(features=features), max_features=5000, max_message_bytes=1 << 20
            ).features
        )
        == 5000
    )


def test_an_oversized_message_is_rejected_before_parsing():
    huge = b'{"padding": "' + b"x" * 70_000 + b'"'  # not even valid JSON: never parsed
    with pytest.raises(InvalidEvent) as caught:
        decode(huge)
    assert caught.value.reason is Reason.TOO_LARGE
    assert "70014 bytes" in caught.value.detail


def test_the_error_names_field_and_reason():
    with pytest.raises(InvalidEvent) as caught:
        decode(event_dict(score="12,5"))
    assert str(caught.value) == "score: expected a number, got '12,5'"


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_features"):
        EventDecoder(max_features=0)
