"""``driftline replay`` with a spec that segments by region: drift in one region of ten is
an alert naming that region's segment, and no global alert."""

from __future__ import annotations

import orjson

from loadtest.segment_stream import segment_spec, write_segment_jsonl

DRIFT_AT = 26_000


def test_replay_names_the_segment_that_drifted(tmp_path, run_replay):
    events, spec = tmp_path / "events.jsonl", tmp_path / "regional.json"
    write_segment_jsonl(events, 38_000, drift_at=DRIFT_AT)
    spec.write_bytes(orjson.dumps(segment_spec().to_dict()))
    flags = ("--spec", str(spec), "--window", "500", "--reference-events", "1000")
    done = run_replay(events, *flags)
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [(a["feature"], a["status"], a.get("segment")) for a in alerts] == [
        ("x1", "firing", {"attribute": "region", "value": "r0"})
    ]
    assert alerts[0]["trigger"]["offset"] > DRIFT_AT
    assert alerts[0]["message"].startswith("region=r0: ")
