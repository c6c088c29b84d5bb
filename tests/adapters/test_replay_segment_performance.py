"""``driftline replay --labels`` with a spec that segments by region: 40% of one region's
labels flipped (one region of five) is a performance alert naming that region's segment,
and no alert names another segment."""

from __future__ import annotations

import numpy as np
import orjson

from streams.core.alerts.alert import format_time

EVENTS, FLIP_AT, START_MS = 14_000, 7_000, 1_795_400_000_000
REGIONS = ("north", "south", "east", "west", "centre")
SPEC = {"model_id": "regional", "features": {"x": {"type": "number"}},
        "segments": ["region"], "segments_top_k": 5,
        "attributes": {"region": {"pii": False}}}  # fmt: skip


def write_stream(events, labels) -> None:
    rng = np.random.default_rng(21)
    x, where = rng.normal(0, 1.5, EVENTS), rng.integers(0, len(REGIONS), EVENTS)
    score = 1 / (1 + np.exp(-x))
    truth = rng.random(EVENTS) < score
    flipped = (np.arange(EVENTS) >= FLIP_AT) & (where == REGIONS.index("east"))
    truth ^= flipped & (rng.random(EVENTS) < 0.4)
    event_lines, label_lines = [], []
    for i, (a, s, r, y) in enumerate(zip(x.tolist(), score.tolist(), where.tolist(),
                                         truth.tolist(), strict=True)):  # fmt: skip
        event_lines.append(orjson.dumps({
            "event_id": f"regional-{i}", "model_id": "regional", "model_version": "v1",
            "timestamp": format_time(START_MS + 10 * i), "features": {"x": a},
            "prediction": int(s > 0.5), "score": s, "attributes": {"region": REGIONS[r]},
        }))  # fmt: skip
        label_lines.append(orjson.dumps({
            "event_id": f"regional-{i}", "model_id": "regional", "label": int(y),
            "timestamp": format_time(START_MS + 10 * i + 60_000),
        }))  # fmt: skip
    events.write_bytes(b"\n".join(event_lines) + b"\n")
    labels.write_bytes(b"\n".join(label_lines) + b"\n")


def test_replay_names_the_segment_whose_labels_went_bad(tmp_path, run_replay, monkeypatch):
    # References of 1,000 labels (global and per region) keep the stream short.
    monkeypatch.setenv("DRIFTLINE_PERFORMANCE_REFERENCE_LABELS", "1000")
    events, labels, spec = (tmp_path / n for n in ("events.jsonl", "labels.jsonl", "spec.json"))
    write_stream(events, labels)
    spec.write_bytes(orjson.dumps(SPEC))
    done = run_replay(events, "--spec", str(spec), "--labels", str(labels))
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    segmented = [a for a in alerts if "segment" in a]
    assert {a["segment"]["value"] for a in segmented} == {"east"}
    firing = [a for a in segmented if a["type"] == "performance" and a["status"] == "firing"]
    assert firing, "no performance alert named the region"
    assert all(a["segment"] == {"attribute": "region", "value": "east"} for a in firing)
    assert all(a["trigger"]["offset"] >= FLIP_AT for a in firing)
