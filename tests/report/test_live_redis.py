"""``driftline report --from-redis`` against a live worker's state in the real Redis: a
worker takes a drifting stream and its labels, the page names the drifted feature as firing
and shows the label side, and it renders in Chromium without console messages."""

from __future__ import annotations

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish
from streams.cli import main
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, generate_events, keyed_labels
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    wait_for_labels,
    wait_until_processed,
)
from tests.report.browser import distinct_bytes, render
from tests.report.test_browser import NOT_BLANK

pytestmark = pytest.mark.integration

REFERENCE, WINDOW, DRIFT_AT = 2_000, 500, 3_000
EVENTS = DRIFT_AT + 4 * WINDOW + 200  # ends (about) 200 events into an open window
STREAM = StreamConfig(
    model_id="it-live",
    seed=13,
    scenarios=(Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0),),
)


def stored_values(settings: Settings) -> dict[bytes, tuple[bytes | None, bytes | None]]:
    """Every key of the run's prefix: its string value (None for other types), serialised."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        keys = sorted(client.scan_iter(f"{settings.redis_prefix}:*"))
        return {key: (_string(client, key), client.dump(key)) for key in keys}
    finally:
        client.close()


def _string(client: redis.Redis, key: bytes) -> bytes | None:
    return client.get(key) if client.type(key) == b"string" else None


def test_the_live_page_names_the_drifted_feature_as_firing(
    stack_config, chromium, tmp_path, monkeypatch, capsys
):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": str(REFERENCE),
        "DRIFTLINE_WINDOW_EVENTS": str(WINDOW),
        "DRIFTLINE_LABEL_RETRY_S": "0.5",
        "DRIFTLINE_PERFORMANCE_REFERENCE_LABELS": "500",
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, STREAM, EVENTS)
        wait_until_processed(worker, EVENTS)
        chunks = generate_events(STREAM, 1_000)
        publish(settings.kafka, settings.topic_labels,
                [r for chunk in chunks for r in keyed_labels(STREAM, chunk)])  # fmt: skip
        wait_for_labels(worker, "joined", 1_000)
    finally:
        assert worker.stop() == 0
    for name, value in env.items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)
    out = tmp_path / "live.html"
    stored = stored_values(settings)

    assert main(["report", "--from-redis", STREAM.model_id, "v1", "--out", str(out)]) == 0

    assert stored_values(settings) == stored  # read, never written

    assert f"wrote {out}" in capsys.readouterr().err
    html = out.read_text()
    assert "Live drift report: it-live v1" in html
    # What the worker stored (the warm-up's events are monitored only if the spec came in
    # time, so the counts are read, not computed).
    state = orjson.loads(stored[f"{settings.redis_prefix}:{{it-live}}:state:v1".encode()][0])
    assert 0 < state["window_count"] < WINDOW and state["windows_closed"] >= 4
    opened = f"window {state['windows_closed']} open: {state['window_count']} of {WINDOW} events"
    assert opened in html
    firing = html.split("<h2>Firing now</h2>", 1)[1].split("</section>", 1)[0]
    assert "<td>x7</td><td>drift</td>" in firing
    assert firing.count("<tr>") == 2  # the header and x7's drift: nothing else fires
    assert 'feature: x7 <span class="alerting">firing</span>' in html
    assert "<h2>Performance (labels)</h2><p>1000 labels joined" in html
    assert "password" not in html and settings.redis_url not in html

    page = render(chromium, out, tmp_path)

    assert page.console == []
    assert page.dom.count("plotly-graph-div js-plotly-plot") == html.count(
        'class="plotly-graph-div"'
    )
    assert distinct_bytes(page.screenshot) >= NOT_BLANK


def test_a_model_version_redis_does_not_hold_is_named(stack_config, tmp_path, monkeypatch, capsys):
    env = isolated_env(stack_config, tmp_path / "faust")
    for name, value in env.items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)
    out = tmp_path / "live.html"
    assert main(["report", "--from-redis", "nobody", "v9", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model nobody version v9" in err[0]
    assert not out.exists()
