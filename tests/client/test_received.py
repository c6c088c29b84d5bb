"""Typed alerts and retraining requests: their fields are the schemas' properties, and every
valid example, and what the worker itself publishes, parses back."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import orjson
import pytest

from streams.client.received_alert import (
    AlertStatistic,
    AlertTrigger,
    AlertWindow,
    ReceivedAlert,
)
from streams.client.retrain_request import ReceivedRetrainRequest, RetrainAlert, RetrainWindow
from streams.core.alerts.alert import Alert, Trigger, Window

SCHEMAS = Path(__file__).parents[2] / "schemas"


def names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def properties(schema: dict, *path: str) -> set[str]:
    node = schema
    for step in path:
        node = node["properties"][step]
        node = node.get("items", node)
    return set(node["properties"])


def test_alert_fields_are_the_schema_properties_nested_ones_included():
    schema = json.loads((SCHEMAS / "alert.json").read_text())
    assert names(ReceivedAlert) == properties(schema)
    assert names(AlertStatistic) == properties(schema, "statistic")
    assert names(AlertWindow) == properties(schema, "window")
    assert names(AlertTrigger) == properties(schema, "trigger")


def test_retrain_request_fields_are_the_schema_properties():
    schema = json.loads((SCHEMAS / "retrain_request.json").read_text())
    assert names(ReceivedRetrainRequest) == properties(schema)
    assert names(RetrainAlert) == properties(schema, "alerts")
    assert names(RetrainWindow) == properties(schema, "window")


@pytest.mark.parametrize("path", sorted((SCHEMAS / "examples/alert/valid").glob("*.json")))
def test_every_valid_alert_example_parses(path):
    alert = ReceivedAlert.from_json(path.read_bytes())
    document = json.loads(path.read_text())
    assert alert.alert_id == document["alert_id"] and alert.created_at.tzinfo is not None
    assert alert.statistic.value == document["statistic"]["value"]


def test_an_alert_of_the_worker_parses_back_to_the_same_values():
    alert = Alert(type="data_drift", status="firing", severity="warning", model_id="churn",
                  model_version="v3", feature="age", detector="psi", statistic_name="psi",
                  value=0.31, threshold=0.1, window=Window(1_000, 2_000, 500),
                  trigger=Trigger("e-9", 1, 42, 2_000), episode="psi/7",
                  sample=({"age": 3},))  # fmt: skip
    received = ReceivedAlert.from_json(orjson.dumps(alert.to_dict()))
    assert (received.alert_id, received.episode_id) == (alert.alert_id, alert.episode_id)
    assert received.trigger.offset == 42 and received.window.count == 500
    assert int(received.trigger.timestamp.timestamp() * 1000) == 2_000
    assert received.sample == ({"age": 3},)


def test_fields_of_a_newer_minor_version_are_ignored_another_major_refused():
    path = next((SCHEMAS / "examples/alert/valid").glob("*.json"))
    document = json.loads(path.read_text())
    assert ReceivedAlert.from_json(orjson.dumps(document | {"runbook": "x"})).alert_id
    with pytest.raises(ValueError, match="schema_version 2"):
        ReceivedAlert.from_json(orjson.dumps(document | {"schema_version": 2}))


@pytest.mark.parametrize("value", [b"", b"not json", b"[1]", b'{"schema_version": 1}'])
def test_what_is_not_an_alert_raises_value_error(value):
    with pytest.raises(ValueError):
        ReceivedAlert.from_json(value)


def test_the_retrain_example_parses():
    path = SCHEMAS / "examples/retrain_request/valid/accuracy_drop.json"
    request = ReceivedRetrainRequest.from_json(path.read_bytes())
    assert request.reason == ("performance",) and request.alerts[0].statistic == "accuracy_drop"
    assert request.metrics["roc_auc"] is None and request.window.count == 1000
