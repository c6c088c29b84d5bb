"""Label events: the decoder accepts exactly what ``schemas/label_event.json`` accepts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.core import InvalidEvent, LabelDecoder, LabelEvent, Reason
from tests.core.conftest import RECORD_TIME_MS, record

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples" / "label_event"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))


def decode(document: object) -> LabelEvent:
    return LabelDecoder().decode(record(orjson.dumps(document)))


def test_there_are_examples_of_both_kinds():
    assert len(VALID) >= 3
    assert len(INVALID) >= 8


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_schema_valid_examples_are_accepted(path):
    label = LabelDecoder().decode(record(path.read_bytes()))
    assert label.event_id == orjson.loads(path.read_bytes())["event_id"]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_schema_invalid_examples_are_rejected(path):
    with pytest.raises(InvalidEvent):
        LabelDecoder().decode(record(path.read_bytes()))


def test_a_label_without_timestamp_takes_the_record_time_and_no_version():
    label = decode({"event_id": "e1", "model_id": "churn", "label": True})
    assert label == LabelEvent("e1", "churn", True, RECORD_TIME_MS, None)


def test_an_explicit_timestamp_and_version_are_kept():
    label = decode({"event_id": "e1", "model_id": "churn", "model_version": "v3",
                    "label": "yes", "timestamp": "2026-11-23T08:00:00.250Z"})  # fmt: skip
    assert (label.model_version, label.label, label.timestamp_ms) == ("v3", "yes", 1795420800250)


@pytest.mark.parametrize(
    ("document", "reason", "field"),
    [
        ({"event_id": "e1", "model_id": "churn"}, Reason.MISSING_FIELD, "label"),
        ({"event_id": "e1", "model_id": "churn", "label": None}, Reason.WRONG_TYPE, "label"),
        ({"event_id": "e1", "model_id": "churn", "label": [1]}, Reason.WRONG_TYPE, "label"),
        ({"event_id": "e1", "model_id": "../x", "label": 1}, Reason.INVALID_VALUE, "model_id"),
        ({"event_id": "", "model_id": "churn", "label": 1}, Reason.INVALID_VALUE, "event_id"),
        (
            {"event_id": "e1", "model_id": "m", "label": 1, "score": 1},
            Reason.UNKNOWN_FIELD,
            "score",
        ),
    ],
)
def test_what_is_wrong_is_named(document, reason, field):
    with pytest.raises(InvalidEvent) as caught:
        decode(document)
    assert (caught.value.reason, caught.value.field) == (reason, field)


def test_an_oversized_label_is_rejected_before_parsing():
    with pytest.raises(InvalidEvent) as caught:
        LabelDecoder(max_message_bytes=64).decode(record(b'{"event_id": "' + b"x" * 80 + b'"}'))
    assert caught.value.reason is Reason.TOO_LARGE
