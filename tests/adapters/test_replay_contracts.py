"""Every kind of record the core produces follows its schema, shown through ``replay``.

One simulated stream with a spec, labels and bad lines makes every alert type fire and
resolve, retraining requests and dead letters of both inputs; ``checked_replay`` validates each
line written. The parametrized tests then make sure each kind really was among them, so a
record kind the stream stopped producing cannot pass unchecked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from streams.simulation import Scenario, StreamConfig, generate_events, keyed_labels, write_jsonl
from tests.contracts import check_record, checked_replay

EVENTS, CHANGE, BACK = 16_000, 7_000, 10_000
CONFIG = StreamConfig(
    model_id="every-alert", seed=11, numeric_features=6, categorical_features=1,
    scenarios=(
        Scenario(kind="abrupt", feature="x0", start=CHANGE, magnitude=1.5, end=BACK),
        Scenario(kind="missing_rate", feature="x2", start=CHANGE, magnitude=0.3, end=BACK),
        Scenario(kind="anomaly_burst", start=CHANGE, duration=300, magnitude=8.0),
    ),
)  # fmt: skip
LABEL_SIDE = {"performance", "concept_drift", "fairness"}
# The alert types the detectors raise; ``tests/test_contracts.py`` holds the code's
# ``AlertType`` to the schema's enum, this list to what a stream can make the core produce.
DETECTOR_TYPES = (
    "data_drift", "prediction_drift", "data_quality", "anomaly", *sorted(LABEL_SIDE),
)  # fmt: skip


def spec() -> dict:
    features = {name: {"type": "number", "nullable": True} for name in CONFIG.numeric_names}
    features |= {name: {"type": "string"} for name in CONFIG.categorical_names}
    return {
        "model_id": CONFIG.model_id, "task": "classification", "features": features,
        "attributes": {"segment": {}, "group": {}},
        "performance": {"fairness": [{"attribute": "group", "reference_group": "A"}]},
    }  # fmt: skip


def labels(events: Path) -> list[bytes]:
    """True labels, but group B's mostly flipped while the features drift: the model turns
    worse and unfair there, then recovers."""
    lines = events.read_bytes().splitlines()[:EVENTS]
    groups = [orjson.loads(line)["attributes"]["group"] for line in lines]
    rng = np.random.default_rng(3)
    out = []
    for chunk in generate_events(CONFIG, EVENTS):
        for index, (_, value) in enumerate(keyed_labels(CONFIG, chunk), start=chunk.start):
            label = orjson.loads(value)
            if CHANGE <= index < BACK and groups[index] == "B" and rng.random() < 0.7:
                label["label"] = 1 - label["label"]
            out.append(orjson.dumps(label))
    return out


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp("every-alert")
    events, label_file = folder / "events.jsonl", folder / "labels.jsonl"
    check_record("model_spec", spec(), where="the test's spec")
    (folder / "spec.json").write_bytes(orjson.dumps(spec()))
    write_jsonl(events, CONFIG, EVENTS)
    with events.open("ab") as out:
        out.write(b'not json\n{"event_id": "x"}\n')
    label_file.write_bytes(b"\n".join([*labels(events), b"[]", b'{"label": 1}']) + b"\n")
    done = checked_replay(
        events, "--spec", folder / "spec.json", "--labels", label_file,
        "--retrain", folder / "retrain.jsonl", "--dlq", folder / "dlq.jsonl",
    )  # fmt: skip
    return {
        name: [orjson.loads(line) for line in data.splitlines()]
        for name, data in (
            ("alerts", done.stdout),
            ("retrain", (folder / "retrain.jsonl").read_bytes()),
            ("dlq", (folder / "dlq.jsonl").read_bytes()),
        )
    }


@pytest.mark.parametrize("status", ["firing", "resolved"])
@pytest.mark.parametrize("alert_type", DETECTOR_TYPES)
def test_every_alert_type_is_produced_and_conforms(replayed, alert_type, status):
    alerts = [a for a in replayed["alerts"] if (a["type"], a["status"]) == (alert_type, status)]
    assert alerts, f"no {status} {alert_type} alert: the check saw none"
    # The bug this suite was built for: label-side alerts sample labelled predictions.
    side = "label" if alert_type in LABEL_SIDE else "features"
    assert all(side in sample for a in alerts for sample in a["sample"])


def test_retraining_requests_are_produced_and_conform(replayed):
    assert replayed["retrain"]
    assert {"performance", "concept_drift"} >= {r for q in replayed["retrain"] for r in q["reason"]}


def test_dead_letters_of_both_inputs_are_produced_and_conform(replayed):
    assert [(d["line"], d["reason"]) for d in replayed["dlq"]] == [
        (EVENTS, "not_json"),
        (EVENTS + 1, "missing_field"),
        (EVENTS, "not_an_object"),
        (EVENTS + 1, "missing_field"),
    ]
