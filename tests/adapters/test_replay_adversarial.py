"""``driftline replay`` of a probed model: the prober's adversarial alerts, by hashed source;
nothing for a spec without a source attribute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import orjson
import pytest

from streams.core.contract.pii import PiiPolicy
from streams.simulation.probing import FEATURES, PROBER, ProbingConfig, probing_events, to_json

KEY = "ab" * 16
SPEC = {
    "model_id": "probed",
    "features": {name: {"type": "number"} for name in FEATURES},
    "attributes": {"client_id": {"pii": True}},
    "source_attribute": "client_id",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay-adversarial")
    config = ProbingConfig(seed=4, clients=200, attack_share=0.05, attack_start=2_000)
    events = folder / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(to_json(e)) + b"\n"
                                for e in probing_events(config, 0, 5_000)))  # fmt: skip
    (folder / "probed.json").write_text(json.dumps(SPEC))
    plain = {k: v for k, v in SPEC.items() if k != "source_attribute"}
    (folder / "plain.json").write_text(json.dumps(plain))
    return folder


def replay(files, spec: str) -> list[dict]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(files / "events.jsonl"),
         "--spec", str(files / spec), "--reference-events", "1000", "--format", "jsonl"],
        env=environ | {"DRIFTLINE_PII_KEY": KEY, "DRIFTLINE_ABUSE_WINDOW_EVENTS": "2000"},
        capture_output=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"5000 accepted" in done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines()]


def test_replay_names_the_prober_by_its_hash(files):
    alerts = replay(files, "probed.json")
    adversarial = [a for a in alerts if a["type"] == "adversarial"]
    prober = PiiPolicy(key=KEY.encode()).redact(PROBER)
    assert {a["adversarial"]["source"] for a in adversarial} == {prober}
    firing = {a["adversarial"]["pattern"]: a for a in adversarial if a["status"] == "firing"}
    assert {"near_duplicates", "threshold_probing"} <= set(firing)
    # Windows of 2,000 after the 1,000-event reference: the probing starts halfway through
    # the first, and is caught at its end.
    assert firing["near_duplicates"]["trigger"]["event_id"] == "probed-2999"
    assert firing["near_duplicates"]["adversarial"]["evidence"]["features"] == ["f0"]
    assert b"client-" not in orjson.dumps(alerts)


def test_no_source_attribute_no_adversarial_alert(files):
    assert not [a for a in replay(files, "plain.json") if a["type"] == "adversarial"]
