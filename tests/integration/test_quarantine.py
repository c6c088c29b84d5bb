"""Stored state is data, never code: a pickle planted where the old format kept river's
detectors is never loaded, and neither it nor garbage bytes stop the worker. Both are moved
to ``:quarantined:``, counted, alerted on, and the model versions start afresh. Garbage in
the offsets that fence what was applied is read as never written (the records after it
applied again, at least once) and written anew by the next save."""

from __future__ import annotations

import base64
import pickle
import urllib.request

import orjson
import pytest
import redis

from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

PICKLED, GARBAGE, FENCED = (
    StreamConfig(model_id="it-q-pickle", seed=3),
    StreamConfig(model_id="it-q-garbage", seed=4),
    StreamConfig(model_id="it-q-fenced", seed=5),
)


class _Marker:
    """Unpickling this creates ``path``: the proof that a planted value ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _old_format_state(marker: str) -> bytes:
    planted = base64.b64encode(pickle.dumps(_Marker(marker))).decode()
    return orjson.dumps({
        "version": 1, "reference_count": 0, "windows_closed": 0, "window_count": 0,
        "window_start_ms": 0, "window_anomalies": 0, "anomalies": 0, "windows": {},
        "rules": [], "tail": [],
        "online": {"detectors": planted, "sums": [0.0], "counts": [0.0], "rows": 0},
    })  # fmt: skip


def test_planted_and_garbage_state_is_quarantined_and_the_worker_goes_on(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust")
    settings = Settings.from_env(env)
    client = redis.Redis.from_url(settings.redis_url)
    marker = tmp_path / "pwned"
    state_key = f"{settings.redis_prefix}:{{{{{{}}}}}}:state:v1"  # P:{M}:state:v1
    client.set(state_key.format(PICKLED.model_id), _old_format_state(str(marker)), ex=3600)
    client.set(state_key.format(GARBAGE.model_id), b"\x80\x04\x95garbage\xff{", ex=3600)
    fences = _plant_garbage_offsets(client, settings, FENCED.model_id)

    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        for stream in (PICKLED, GARBAGE, FENCED):
            publish_stream(settings, stream, 300)
        wait_until_processed(worker, 900)
        quarantined = worker.metric_total("driftline_state_quarantined_total", kind="state")
        for stream in (PICKLED, GARBAGE, FENCED):
            publish_stream(settings, stream, 200, offset=300)
        wait_until_processed(worker, 1500)
        with urllib.request.urlopen(f"{worker.base_url}/live", timeout=5) as response:
            live = response.status
        alerts = [orjson.loads(a.value) for a in read_alerts(settings)]
    finally:
        assert worker.stop() == 0

    assert not marker.exists(), "a planted pickle was loaded"
    assert quarantined == 2
    assert live == 200
    for model in (PICKLED.model_id, GARBAGE.model_id):
        assert client.get(state_key.format(model)) is not None  # a fresh monitor's state
        moved = client.keys(f"{state_key.format(model)}:quarantined:*")
        assert len(moved) == 1 and 0 < client.ttl(moved[0]) <= settings.state_ttl_s
    for key in fences[:2]:  # the partition the models' records went to: written anew
        assert any(value.isdigit() for value in client.hvals(key)), client.hgetall(key)
    assert "not an offset: left out" in (tmp_path / "worker.log").read_text()
    internal = {a["model_id"]: a for a in alerts if a["type"] == "internal"}
    assert set(internal) == {PICKLED.model_id, GARBAGE.model_id}
    assert all("quarantined" in a["message"] for a in internal.values())


def _plant_garbage_offsets(client: redis.Redis, settings: Settings, model_id: str) -> list[str]:
    """Garbage in the shared offsets and in ``model_id``'s fence of the monitored topic (as
    something other than Driftline might write it); their keys."""
    topic = settings.monitored(settings.topic_predictions)
    base = f"{settings.redis_prefix}:{{{model_id}}}"
    offsets = [f"{settings.redis_prefix}:offsets:{topic}", f"{base}:offsets:{topic}"]
    sources = [f"{settings.redis_prefix}:sources:{topic}", f"{base}:sources:{topic}"]
    for key in offsets:
        client.hset(key, mapping={"0": b"garbage", "1": b"[1, 2]"})
    for key in sources:
        client.hset(key, mapping={f"0|{settings.topic_predictions}|0": b"x", "no|field": b"1"})
    return offsets + sources
