"""One owner per model's state whatever the producers' keys: unkeyed input, or input keyed by
event id, read by several workers gives the counts, episodes and dead letters of keyed input
read by one; a killed worker's re-forwarded records are skipped, not applied twice. With
direct routing, only the records off their model's partition are copied, with the same
alerts, and records read again after a kill are skipped."""

from __future__ import annotations

import time
import zlib

import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.adapters.kafka.routing import routed_records
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, keyed_events
from streams.stack.worker import WorkerProcess, metric_sum, route_direct_from_the_start
from tests.integration.conftest import free_port, isolated_env, read_alerts, read_all

pytestmark = pytest.mark.integration

EVENTS, WINDOW, PACE = 6_000, 500, 100
STREAM = StreamConfig(
    model_id="it-owner",
    seed=23,
    scenarios=(Scenario(kind="variance", feature="x11", start=3_250, end=5_250, magnitude=2.0),),
)
BAD = [b"not json", b"[1, 2]", b'{"model_id": "it-owner"}']


def _env(stack_config, tmp_path, **extra: str) -> dict[str, str]:
    return isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "2000",
        "DRIFTLINE_WINDOW_EVENTS": str(WINDOW),
        "DRIFTLINE_PARTITIONS": "3",
        **extra,
    }


def _workers(env: dict[str, str], tmp_path, count: int, tag: str) -> list[WorkerProcess]:
    workers = [
        WorkerProcess(env, web_port=free_port(), log_path=tmp_path / f"{tag}{i}.log")
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    return workers


def _wait_total(
    workers: list[WorkerProcess], count: int, timeout_s: float = 90,
    name: str = "driftline_events_processed_total",
) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while metric_sum(workers, name) < count:
        assert time.monotonic() < deadline, f"the workers did not reach {count} {name}"
        time.sleep(0.05)  # paced publishing waits on this sixty times a run


def _rekeyed(records: list[tuple[bytes, bytes]]) -> list[tuple[bytes | None, bytes]]:
    # Half the records unkeyed, half keyed by event id: both spread a model over partitions.
    return [
        (None if i % 2 else orjson.loads(value)["event_id"].encode(), value)
        for i, (_, value) in enumerate(records)
    ]


def _drift_alerts(settings: Settings) -> list[dict]:
    alerts = [orjson.loads(letter.value) for letter in read_alerts(settings)]
    return [a for a in alerts if a["type"] == "data_drift"]


@pytest.fixture(scope="module")
def keyed_alerts(stack_config, tmp_path_factory) -> list[dict]:
    """The drift alerts of model-keyed input read by one worker on the input topic."""
    tmp_path = tmp_path_factory.mktemp("keyed")
    keyed_env = _env(stack_config, tmp_path, DRIFTLINE_ROUTING="keyed")
    keyed_settings = Settings.from_env(keyed_env)
    (single,) = _workers(keyed_env, tmp_path, 1, "keyed")
    try:
        publish(keyed_settings.kafka, keyed_settings.topic_predictions,
                keyed_events(STREAM, EVENTS))  # fmt: skip
        _wait_total([single], EVENTS)
        return _drift_alerts(keyed_settings)
    finally:
        assert single.stop() == 0


def _publish_paced(settings: Settings, workers: list[WorkerProcess], records) -> list:
    # Published a window's divisor at a time: the by-model topic then holds each window's
    # events (in another order within it, as several input partitions interleave).
    places = []
    for start in range(0, len(records), PACE):
        places += publish(settings.kafka, settings.topic_predictions, records[start : start + PACE])
        _wait_total(workers, start + PACE)
    return places


def test_unkeyed_input_on_three_workers_gives_what_keyed_input_on_one_gives(
    stack_config, tmp_path, keyed_alerts
):
    expected = keyed_alerts
    env = _env(stack_config, tmp_path / "unkeyed")
    settings = Settings.from_env(env)
    workers = _workers(env, tmp_path, 3, "unkeyed")
    try:
        records = _rekeyed(keyed_events(STREAM, EVENTS))
        bad_at = publish(settings.kafka, settings.topic_predictions, [(None, b) for b in BAD])
        _publish_paced(settings, workers, records)
        drift = _drift_alerts(settings)
        assert metric_sum(workers, "driftline_events_processed_total") == EVENTS
        letters = read_all(settings, settings.topic_dlq)
    finally:
        assert all(worker.stop() == 0 for worker in workers)

    firing = [a for a in drift if a["status"] == "firing"]
    assert [a["feature"] for a in firing] == ["x11"]
    assert [a["alert_id"] for a in drift] == [a["alert_id"] for a in expected]
    # Dead letters once each, naming where the producer's record is, not the internal topic.
    assert sorted(letter.value for letter in letters) == sorted(BAD)
    places = {
        (h["driftline.dlq.original.topic"].decode(), int(h["driftline.dlq.original.partition"]),
         int(h["driftline.dlq.original.offset"]))
        for h in (letter.headers for letter in letters)
    }  # fmt: skip
    assert places == {(settings.topic_predictions, p, o) for p, o in bad_at}


def _killed_then_resumed(
    env: dict[str, str], tmp_path, records, after_env: dict[str, str] | None = None
) -> tuple[float, float]:
    """2,000 records processed by a worker killed before any commit, then (once they are
    read again) the rest by two new workers (``after_env``: in another mode): the events
    they processed, and the records they skipped as applied."""
    settings = Settings.from_env(env)
    first, later = records[:2_000], records[2_000:]
    (doomed,) = _workers(env, tmp_path, 1, "doomed")
    publish(settings.kafka, settings.topic_predictions, first)
    _wait_total([doomed], len(first))
    doomed.kill()  # nothing committed: every input record is read (and routed) again

    workers = _workers(after_env or env, tmp_path, 2, "after")
    try:
        _wait_total(workers, len(first), name="driftline_replayed_records_skipped_total")
        publish(settings.kafka, settings.topic_predictions, later)
        _wait_total(workers, len(later))
        time.sleep(3)  # anything applied twice would show by now
        return (metric_sum(workers, "driftline_events_processed_total"),
                metric_sum(workers, "driftline_replayed_records_skipped_total"))  # fmt: skip
    finally:
        assert all(worker.stop() == 0 for worker in workers)


def test_records_re_forwarded_after_a_kill_are_skipped(stack_config, tmp_path):
    env = _env(stack_config, tmp_path, DRIFTLINE_ROUTING="repartition",
               DRIFTLINE_COMMIT_INTERVAL_S="3600")  # fmt: skip
    processed, skipped = _killed_then_resumed(env, tmp_path, _rekeyed(keyed_events(STREAM, 3_000)))
    assert processed == 1_000
    # The first copies by their by-model offsets, the re-forwarded ones by source offset.
    assert skipped >= 2 * 2_000


def _forwarded(settings: Settings) -> list[int]:
    """The source offsets of the events the routing stage copied to the by-model topic
    (bundles opened), each as often as it was copied."""
    topic = settings.predictions_by_model
    return [
        copy.offset
        for r in read_all(settings, topic)
        for copy in routed_records(topic, r.partition, r.offset, r.timestamp_ms, r.value, r.key,
                                   list(r.headers.items()))
    ]  # fmt: skip


def test_direct_routing_copies_only_the_records_off_their_models_partition(
    stack_config, tmp_path, keyed_alerts
):
    env = _env(stack_config, tmp_path, DRIFTLINE_ROUTING="direct")
    settings = Settings.from_env(env)
    route_direct_from_the_start(env)
    # Half keyed by model id (on its by-model partition: applied where read), half by event
    # id (spread over the partitions: those not on the model's are copied).
    records = [
        (key if i % 2 else orjson.loads(value)["event_id"].encode(), value)
        for i, (key, value) in enumerate(keyed_events(STREAM, EVENTS))
    ]
    workers = _workers(env, tmp_path, 2, "direct")
    try:
        places = _publish_paced(settings, workers, records)
        time.sleep(2)  # anything applied twice would show by now
        processed = metric_sum(workers, "driftline_events_processed_total")
        drift = _drift_alerts(settings)
        forwarded = len(_forwarded(settings))
    finally:
        assert all(worker.stop() == 0 for worker in workers)
    own = zlib.crc32(STREAM.model_id.encode()) % settings.partitions
    off_partition = sum(partition != own for partition, _ in places)
    assert processed == EVENTS
    assert forwarded == off_partition and 0 < forwarded < EVENTS / 2
    assert [a["alert_id"] for a in drift] == [a["alert_id"] for a in keyed_alerts]


def test_direct_records_read_again_after_a_kill_are_skipped(stack_config, tmp_path):
    env = _env(stack_config, tmp_path, DRIFTLINE_ROUTING="direct",
               DRIFTLINE_COMMIT_INTERVAL_S="3600")  # fmt: skip
    route_direct_from_the_start(env)
    processed, skipped = _killed_then_resumed(env, tmp_path, keyed_events(STREAM, 3_000))
    assert _forwarded(Settings.from_env(env)) == [], "all on their model's partition"
    assert processed == 1_000
    assert skipped >= 2_000


@pytest.mark.parametrize("before, after", [("repartition", "direct"), ("direct", "repartition")])
def test_a_change_of_mode_after_a_kill_applies_no_record_twice(
    stack_config, tmp_path, before, after
):
    # Model-keyed input: every record on its model's partition. A worker in one mode is
    # killed before any commit; workers in the other read its records again, on the road
    # each was first routed on, and claim theirs for the records to come.
    env = _env(stack_config, tmp_path, DRIFTLINE_COMMIT_INTERVAL_S="3600")
    settings = Settings.from_env(env)
    if before == "direct":
        route_direct_from_the_start(env | {"DRIFTLINE_ROUTING": "direct"})
    processed, skipped = _killed_then_resumed(
        env | {"DRIFTLINE_ROUTING": before}, tmp_path, keyed_events(STREAM, 3_000),
        after_env=env | {"DRIFTLINE_ROUTING": after},
    )  # fmt: skip
    assert processed == 1_000
    assert skipped >= 2_000
    # Copied: the first 2,000 (before, and each time they were read again), or the last
    # 1,000 only (the after workers' road); never a record of the other road.
    copied = range(0, 2_000) if before == "repartition" else range(2_000, 3_000)
    assert set(_forwarded(settings)) == set(copied)
