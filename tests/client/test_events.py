"""Events as the loggers build them: the schema's shape, checked by the worker's decoders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import numpy as np
import orjson
import pytest

from streams.client.events import check, encode, label_event, prediction_event
from streams.core.contract.decoder import EventDecoder, LabelDecoder
from streams.core.errors import InvalidEvent

SCHEMAS = Path(__file__).parents[2] / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def test_a_full_prediction_event_fits_the_schema_and_passes_the_decoder():
    event = prediction_event(
        event_id="e-1", timestamp=datetime(2026, 1, 31, 12, tzinfo=UTC), model_id="churn",
        model_version="v3", features={"age": 41, "plan": "gold", "spend": None},
        prediction=1, score=0.8, latency_ms=7.5, attributes={"region": "eu"},
    )  # fmt: skip
    value = encode(event)
    jsonschema.validate(orjson.loads(value), schema("prediction_event"))
    check(value, EventDecoder())
    assert orjson.loads(value)["timestamp"] == "2026-01-31T12:00:00.000000Z"


def test_optional_fields_left_out_are_absent_not_null():
    event = prediction_event(event_id="e", timestamp="2026-01-31T12:00:00Z", model_id="m",
                             model_version="1", features={}, prediction="yes")  # fmt: skip
    assert set(event) == {"event_id", "model_id", "model_version", "timestamp", "features",
                          "prediction"}  # fmt: skip
    jsonschema.validate(orjson.loads(encode(event)), schema("prediction_event"))


def test_numpy_values_from_a_model_are_plain_json_numbers():
    event = prediction_event(event_id="e", timestamp="2026-01-31T12:00:00Z", model_id="m",
                             model_version="1", features={"x": np.float32(0.5)},
                             prediction=np.int64(1), score=np.float64(0.25))  # fmt: skip
    value = encode(event)
    check(value, EventDecoder())
    assert orjson.loads(value)["prediction"] == 1


def test_a_label_event_fits_its_schema_and_decoder():
    value = encode(label_event(event_id="e-1", model_id="churn", label=True,
                               timestamp="2026-01-31T12:00:00Z"))  # fmt: skip
    jsonschema.validate(orjson.loads(value), schema("label_event"))
    check(value, LabelDecoder())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model_id": "../etc"}, "model_id"),
        ({"features": {"x": [1, 2]}}, "features.x"),
        ({"score": float("nan")}, "score"),  # orjson writes NaN as null: a wrong type
        ({"timestamp": "2026-01-31 12:00"}, "timestamp"),
    ],
)
def test_what_the_worker_would_dead_letter_is_refused_naming_the_field(change, field):
    fields = dict(event_id="e", timestamp="2026-01-31T12:00:00Z", model_id="m",
                  model_version="1", features={"x": 1}, prediction=1) | change  # fmt: skip
    with pytest.raises(InvalidEvent) as error:
        check(encode(prediction_event(**fields)), EventDecoder())
    assert error.value.field == field
