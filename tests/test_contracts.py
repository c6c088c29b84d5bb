"""The contract check catches records that break their contract, and passes the code's own."""

from __future__ import annotations

import importlib
import typing

import orjson
import pytest

from streams.adapters.kafka import records as kafka_records
from streams.adapters.kafka.dead_letter import dead_letter_headers
from streams.adapters.kafka.records import ReadRecord
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.alerts.alert import Alert, Trigger, Window
from tests.contracts import (
    SCHEMA_DIR,
    ContractViolation,
    check_dead_letter_headers,
    check_jsonl,
    check_published,
    check_record,
    checked_read_from,
    dead_letter_table,
    load_json,
    topic_contract,
)
from tests.core.conftest import event_dict, record


def label_alert(**overrides) -> dict:
    alert = Alert(
        type="performance", status="firing", severity="warning", model_id="churn",
        model_version="v3", feature=None, detector="performance",
        statistic_name="accuracy_drop", value=0.2, threshold=0.05,
        window=Window(1_000, 2_000, 300), trigger=Trigger("evt-9", 1, 77, 3_000),
        episode="accuracy/e4",
        sample=({"event_id": "evt-9", "prediction": 1, "label": 0, "score": None},),
    ).to_dict()  # fmt: skip
    return {**alert, **overrides}


def rejections(*records):
    return Ingestor(EventDecoder(), SpecRegistry()).ingest(list(records)).rejected


@pytest.mark.parametrize("field", ["type", "status", "severity"])
def test_every_value_the_code_can_put_in_an_alert_is_in_the_schema(field):
    schema = load_json(SCHEMA_DIR / "alert.json")["properties"][field]["enum"]
    values = set(typing.get_args(typing.get_type_hints(Alert)[field]))
    assert values, f"Alert.{field} is not a Literal any more"
    assert values <= set(schema), f"the code can emit {sorted(values - set(schema))}"


def test_an_alert_with_a_label_side_sample_conforms():
    check_record("alert", label_alert())


@pytest.mark.parametrize(
    "broken",
    [
        {"sample": [{"event_id": "e", "prediction": 1, "label": 0, "score": 0.5, "features": {}}]},
        {"sample": [{"event_id": "e", "prediction": 1}]},
        {"schema_version": 2},
        {"type": "internal_error"},
        {"statistic": {"name": "psi", "value": 0.2}},
        {"extra": True},
    ],
    ids=["sample_mixes_sides", "sample_neither_side", "version", "type", "statistic", "extra"],
)
def test_a_broken_alert_is_caught(broken):
    with pytest.raises(ContractViolation, match=r"breaks schemas/alert\.json"):
        check_record("alert", label_alert(**broken))


def test_jsonl_is_checked_line_by_line_and_must_be_strict_json():
    good = orjson.dumps(label_alert())
    assert check_jsonl("alert", good + b"\n" + good + b"\n", where="out") == 2
    with pytest.raises(ContractViolation, match="out:1"):
        check_jsonl("alert", good + b"\n" + orjson.dumps(label_alert(status="open")), where="out")
    with pytest.raises(ContractViolation, match="not strict UTF-8 JSON"):
        check_jsonl("alert", good.replace(b"0.2", b"NaN", 1), where="out")


def test_the_header_table_is_read_from_the_readme():
    table = dead_letter_table()
    assert table["driftline.dlq.reason"].required
    assert not table["driftline.dlq.field"].required
    assert table["driftline.dlq.original.offset"].decimal
    assert table["__connect.errors.offset"].same_as == "driftline.dlq.original.offset"


@pytest.mark.parametrize(
    "bad",
    [b"not json", b"", event_dict(score="12,5"), event_dict(model_id="../etc"), b"\xff\xfe"],
    ids=["not_json", "empty", "wrong_type", "invalid_value", "invalid_utf8"],
)
def test_the_code_s_dead_letter_headers_follow_the_table(bad):
    (rejection,) = rejections(record(bad, offset=5))
    check_dead_letter_headers(dict(dead_letter_headers(rejection)))


def code_headers() -> dict[str, bytes]:
    (rejection,) = rejections(record(event_dict(score="12,5"), offset=5))
    return dict(dead_letter_headers(rejection))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: h.pop("driftline.dlq.reason"), "missing required"),
        (lambda h: h.update({"__connect.errors.offset": b"6"}), "differs from"),
        (lambda h: h.update({"driftline.dlq.retry": b"1"}), "unknown header"),
        (
            lambda h: h.update(
                {"driftline.dlq.original.offset": b"five", "__connect.errors.offset": b"five"}
            ),
            "not a decimal",
        ),
        (lambda h: h.update({"driftline.dlq.exception.message": b"\xff"}), "not UTF-8"),
    ],
    ids=["missing", "mirror", "unknown", "decimal", "utf8"],
)
def test_broken_dead_letter_headers_are_caught(change, problem):
    headers = code_headers()
    change(headers)
    with pytest.raises(ContractViolation, match=problem):
        check_dead_letter_headers(headers)


def test_topics_map_to_their_contracts_with_or_without_a_run_suffix():
    assert topic_contract("alerts") == "alert"
    assert topic_contract("alerts-test-1a2b") == "alert"
    assert topic_contract("retrain-requests-x") == "retrain_request"
    assert topic_contract("predictions-dlq-x") == topic_contract("labels-dlq") == "dead_letter"
    assert topic_contract("predictions-x") is None
    assert topic_contract("labels") is None


def test_a_published_alert_must_be_keyed_by_its_model():
    value = orjson.dumps(label_alert())
    check_published("alerts-x", ReadRecord(0, 3, b"churn", value, {}))
    with pytest.raises(ContractViolation, match="is not the model id"):
        check_published("alerts-x", ReadRecord(0, 3, b"other", value, {}))
    with pytest.raises(ContractViolation, match=r"retrain-requests-x\[0\]@3 breaks"):
        check_published("retrain-requests-x", ReadRecord(0, 3, b"churn", value, {}))


def test_records_read_back_are_checked_wherever_read_from_is_bound():
    demo = importlib.import_module("streams.demo")
    assert demo.read_from is kafka_records.read_from
    assert "checked_read_from" in demo.read_from.__qualname__

    def broker_with_a_broken_alert(bootstrap, topic, start, **kwargs):
        return [ReadRecord(0, 0, b"churn", orjson.dumps(label_alert(status="open")), {})]

    checked = checked_read_from(broker_with_a_broken_alert)
    with pytest.raises(ContractViolation, match="status"):
        checked("localhost:1", "alerts-x", {0: 0}, count=1)
    assert checked("localhost:1", "predictions-x", {0: 0}, count=1)  # inputs are not checked
