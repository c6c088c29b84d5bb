"""Nothing stalls forever, nothing is dropped silently: a real worker, broker and Redis.

An oversized record is dead-lettered (truncated when the dead-letter topic cannot hold
it) and the valid events behind it flow on; a partition that cannot make progress makes
/health fail naming it, and /health recovers once the cause is gone.
"""

from __future__ import annotations

import hashlib
import time

import pytest
import redis
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from streams.adapters.kafka.dead_letter import RESCUE_VALUE_BYTES
from streams.adapters.kafka.records import end_offsets, publish, read_from
from streams.kafka_config import KafkaConfig
from streams.samples import sample_events
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess, free_port, route_direct_from_the_start
from tests.integration.conftest import (
    isolated_env,
    publish_stream,
    wait_for,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

FITS = 4_194_000  # under the broker's 4 MiB default: the DLQ, sized from predictions, holds it
TOO_BIG = 5_000_000  # accepted once predictions' limit is raised; the DLQ cannot hold it
VALID = 1_200


def _stall_worker(stack_config, tmp_path_factory, routing: str):
    env = {**isolated_env(stack_config, tmp_path_factory.mktemp("faust")),
           "DRIFTLINE_STALL_S": "2", "DRIFTLINE_ROUTING": routing}  # fmt: skip
    route_direct_from_the_start(env)
    process = WorkerProcess(
        env, web_port=free_port(), log_path=tmp_path_factory.mktemp("worker") / "log"
    )
    process.start()
    process.wait_for_partitions()
    yield process, Settings.from_env(env)
    assert process.stop() == 0, "the worker did not shut down cleanly"


@pytest.fixture(scope="module")
def stall_worker(stack_config, tmp_path_factory):
    yield from _stall_worker(stack_config, tmp_path_factory, "repartition")


@pytest.fixture(scope="module")
def direct_stall_worker(stack_config, tmp_path_factory):
    """Routing direct from the first record: each record keyed by its model is applied by
    the routing stage itself."""
    yield from _stall_worker(stack_config, tmp_path_factory, "direct")


def set_topic_config(kafka: KafkaConfig, topic: str, name: str, value: str) -> None:
    admin = AdminClient(kafka.confluent())
    entry = ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result()


def payload(size: int, seed: int) -> bytes:
    """Not JSON (rejected as too_large first anyway), hard to compress, recognisable."""
    block = hashlib.sha256(str(seed).encode()).digest() * 64
    return (block * (size // len(block) + 1))[:size]


def test_oversized_records_are_dead_lettered_and_valid_events_flow(stall_worker):
    worker, settings = stall_worker
    kafka = settings.kafka
    set_topic_config(kafka, settings.topic_predictions, "max.message.bytes", str(6 << 20))
    fits, too_big = payload(FITS, 1), payload(TOO_BIG, 2)
    dlq_start = end_offsets(kafka, settings.topic_dlq)
    before = worker.metric_total("driftline_events_processed_total")
    publish(kafka, settings.topic_predictions, [(b"big-0", fits), (b"big-1", too_big)])
    models = [f"it-flow-{n}" for n in range(6)]
    valid = [(m.encode(), v) for m in models for v in sample_events(m, VALID // len(models))]
    positions = publish(kafka, settings.topic_predictions, valid)
    assert {p for p, _ in positions} == set(range(settings.partitions)), "on every partition"

    started = time.monotonic()
    statuses = []

    def all_processed() -> bool:
        statuses.append(worker.health()[0])
        return worker.metric_total("driftline_events_processed_total") - before >= VALID

    wait_for(all_processed, "the valid events behind the big ones to flow", 30)
    assert time.monotonic() - started < 30
    assert set(statuses) == {200}, "no stall, so /health stays 200 throughout"

    letters = read_from(kafka, settings.topic_dlq, dlq_start, count=2, timeout_s=10)
    dead_lettered = sum(end_offsets(kafka, settings.topic_dlq).values()) - sum(dlq_start.values())
    by_length = {int(r.headers.get("driftline.dlq.original.length", len(r.value))): r
                 for r in letters}  # fmt: skip
    assert dead_lettered == 2 and set(by_length) == {FITS, TOO_BIG}, "each once, nothing else"
    whole = by_length[FITS]
    assert whole.value == fits and "driftline.dlq.truncated" not in whole.headers
    cut = by_length[TOO_BIG]
    assert 0 < len(cut.value) < TOO_BIG and cut.value == too_big[: len(cut.value)]
    assert (
        cut.headers["driftline.dlq.original.sha256"] == hashlib.sha256(too_big).hexdigest().encode()
    )
    assert cut.headers["driftline.dlq.truncated"] == b"too_large"
    assert cut.headers["driftline.dlq.reason"] == b"too_large"
    assert cut.key == b"big-1"
    assert worker.metric_total("driftline_events_rejected_total", reason="too_large") == 2
    assert worker.health()[0] == 200


def test_an_oversized_label_is_dead_lettered_where_it_is_read(stall_worker):
    """A label record the by-model topic cannot take: the routing stage dead-letters it
    with the original's length and digest, not a cut copy of it taken for the original."""
    worker, settings = stall_worker
    kafka = settings.kafka
    set_topic_config(kafka, settings.topic_labels, "max.message.bytes", str(6 << 20))
    dlq_start = end_offsets(kafka, settings.topic_labels_dlq)
    too_big = payload(TOO_BIG, 4)
    publish(kafka, settings.topic_labels, [(b"big-label", too_big)])
    (letter,) = read_from(kafka, settings.topic_labels_dlq, dlq_start, count=1, timeout_s=20)
    assert letter.headers["driftline.dlq.reason"] == b"too_large"
    assert letter.headers["driftline.dlq.original.length"] == str(TOO_BIG).encode()
    digest = hashlib.sha256(too_big).hexdigest().encode()
    assert letter.headers["driftline.dlq.original.sha256"] == digest
    assert letter.value == too_big[: len(letter.value)] and letter.key == b"big-label"
    assert read_from(kafka, settings.topic_labels_dlq, dlq_start, count=2, timeout_s=3) == [letter]
    assert worker.metric_total("driftline_labels_total", outcome="rejected") == 1
    assert worker.health()[0] == 200


@pytest.mark.parametrize("fixture", ["stall_worker", "direct_stall_worker"])
def test_a_stalled_partition_fails_health_and_recovers(request, fixture):
    worker, settings = request.getfixturevalue(fixture)
    kafka = settings.kafka
    client = redis.Redis.from_url(settings.redis_url)
    # Redis stops taking writes (as during a failover) but answers PING and reads: the
    # batch's state cannot be saved, so the partition cannot move on.
    client.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        event = next(sample_events("it-stall", 1))
        publish(kafka, settings.topic_predictions, [(b"it-stall", event)])
        wait_for(lambda: worker.health()[0] == 503, "/health to fail on the stall", 20)
        status, health = worker.health()
        assert status == 503, health
        assert health["kafka"]["ok"] and health["redis"]["ok"], "only the stall fails /health"
        assert not health["progress"]["ok"]
        # With repartition the routing stage forwarded the event (it needs no Redis): the
        # monitors' partition of the by-model topic is the one that cannot move on. Routed
        # direct, the event is applied where it is read: its input partition cannot.
        (stall,) = health["progress"]["stalled"]
        watched = settings.monitored(settings.topic_predictions)
        if settings.routing == "direct":
            watched = settings.topic_predictions
        assert stall["topic"] == watched
        assert stall["lag"] == 1 and stall["seconds"] >= 2 and stall["since"] < time.time()
        labels = {"topic": watched, "partition": str(stall["partition"])}
        assert worker.metric_total("driftline_consumer_lag", **labels) == 1
        # The gauge is sampled every stall_s / 4, /health reads the clock: it follows.
        since = "driftline_seconds_since_progress"
        wait_for(lambda: worker.metric_total(since, **labels) >= 2, f"{since} to pass 2", 5)
    finally:
        client.execute_command("CLIENT", "UNPAUSE")
    wait_for(lambda: worker.health()[0] == 200, "/health to pass again", 30)
    lag = {"topic": watched}
    wait_for(lambda: worker.metric_total("driftline_consumer_lag", **lag) == 0, "no lag", 5)


def test_a_dead_letter_the_broker_refuses_as_too_large_is_sent_truncated(stall_worker):
    worker, settings = stall_worker
    kafka = settings.kafka
    # The DLQ's limit lowered after the worker read it: the worker sends the record whole,
    # the broker refuses it for good (MESSAGE_TOO_LARGE), the worker sends a cut copy.
    set_topic_config(kafka, settings.topic_dlq, "max.message.bytes", str(1 << 20))
    dlq_start = end_offsets(kafka, settings.topic_dlq)
    big = payload(2_000_000, 3)
    publish(kafka, settings.topic_predictions, [(b"big-2", big)])
    (letter,) = read_from(kafka, settings.topic_dlq, dlq_start, count=1, timeout_s=20)
    assert letter.value == big[:RESCUE_VALUE_BYTES]
    assert letter.headers["driftline.dlq.original.length"] == b"2000000"
    digest = hashlib.sha256(big).hexdigest().encode()
    assert letter.headers["driftline.dlq.original.sha256"] == digest
    failures = {"target": settings.topic_dlq, "reason": "too_large"}
    assert worker.metric_total("driftline_publish_failures_total", **failures) == 1
    assert read_from(kafka, settings.topic_dlq, dlq_start, count=2, timeout_s=3) == [letter]
    assert worker.health()[0] == 200


def test_an_alert_refused_for_good_is_counted_not_retried(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "2000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        # No alert fits: the broker refuses each with MESSAGE_TOO_LARGE, a permanent error.
        set_topic_config(settings.kafka, settings.topic_alerts, "max.message.bytes",
                         "200")  # fmt: skip
        drifting = StreamConfig(model_id="it-refused", seed=21, scenarios=(
            Scenario(kind="variance", feature="x11", start=2_500, magnitude=2.0),))  # fmt: skip
        publish_stream(settings, drifting, 4_500)
        wait_until_processed(worker, 4_500, timeout_s=60)
        refused = {"target": settings.topic_alerts, "reason": "too_large"}
        wait_for(lambda: worker.metric_total("driftline_publish_failures_total", **refused) >= 1,
                 "the refused alert counted", 10)  # fmt: skip
        assert worker.metric_total("driftline_retries_total", target=settings.topic_alerts) == 0
        assert worker.health()[0] == 200
        log = (tmp_path / "worker.log").read_text()
        assert "DROPPED a" in log and "failed permanently (too_large)" in log
    finally:
        assert worker.stop() == 0
