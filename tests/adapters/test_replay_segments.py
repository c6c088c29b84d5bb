"""``driftline replay`` with a spec that segments by region: the drift of one region is an
alert naming that region's segment, and no other segment's.

Cheap: the drift is in ``r1`` (19% of the traffic), so the global checks may see it too;
drift in 5% of the traffic caught in its segment alone is tests/core/test_segments.py's."""

from __future__ import annotations

import orjson

from loadtest.segment_stream import segment_spec, write_segment_jsonl

EVENTS, DRIFT_AT = 12_000, 8_000


def test_replay_names_the_segment_that_drifted(tmp_path, run_replay):
    events, spec = tmp_path / "events.jsonl", tmp_path / "regional.json"
    write_segment_jsonl(events, EVENTS, drift_at=DRIFT_AT, region=1)
    spec.write_bytes(orjson.dumps(segment_spec().to_dict()))
    flags = ("--spec", str(spec), "--window", "500", "--reference-events", "1000")
    done = run_replay(events, *flags)
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    segmented = [a for a in alerts if "segment" in a]
    assert [(a["feature"], a["status"], a["segment"]) for a in segmented] == [
        ("x1", "firing", {"attribute": "region", "value": "r1"})
    ]
    assert {a["feature"] for a in alerts} == {"x1"}
    assert segmented[0]["trigger"]["offset"] > DRIFT_AT
    assert segmented[0]["message"].startswith("region=r1: ")
