"""Ingestion against the real broker and Redis: bad records to the DLQ, the rest applied."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish, read_from
from streams.samples import BAD_RECORDS, sample_events
from tests.integration.conftest import read_all, wait_for, wait_for_metric

pytestmark = pytest.mark.integration

MODEL = "it-churn"
GOOD_BEFORE, GOOD_AFTER = 120, 80


@pytest.fixture(scope="module")
def published(worker, settings):
    """Good events, every bad record, more good events; the bad ones' positions."""
    good = [(MODEL.encode(), value) for value in sample_events(MODEL, GOOD_BEFORE + GOOD_AFTER)]
    bad = [(b"bad-input", record.value) for record in BAD_RECORDS]
    positions = publish(
        settings.kafka,
        settings.topic_predictions,
        [*good[:GOOD_BEFORE], *bad, *good[GOOD_BEFORE:]],
    )
    assert len(positions) == len(good) + len(bad)
    return dict(zip(positions[GOOD_BEFORE : GOOD_BEFORE + len(bad)], BAD_RECORDS, strict=True))


@pytest.fixture(scope="module")
def dead_letters(published, settings, worker):
    """Every record on the dead-letter topic once the worker has judged the whole input."""
    rejected = "driftline_events_rejected_total"
    wait_for(lambda: worker.metric_total(rejected) >= len(published), "every bad record judged")
    good = GOOD_BEFORE + GOOD_AFTER
    wait_for_metric(worker, "driftline_events_processed_total", good, model=MODEL)
    start = dict.fromkeys(range(settings.partitions), 0)
    read_from(settings.kafka, settings.topic_dlq, start, count=len(published), timeout_s=20)
    return read_all(settings, settings.topic_dlq)


def test_every_bad_record_is_dead_lettered_once_with_its_reason(published, dead_letters, settings):
    by_place = {
        (
            int(letter.headers["driftline.dlq.original.partition"]),
            int(letter.headers["driftline.dlq.original.offset"]),
        ): letter
        for letter in dead_letters
    }
    assert len(dead_letters) == len(published), "each bad record exactly once"
    assert set(by_place) == set(published), "every bad record, nothing else"
    for position, bad in published.items():
        letter = by_place[position]
        assert letter.value == bad.value, f"{bad.name}: the value must arrive unchanged"
        assert letter.key == b"bad-input"
        assert letter.headers["driftline.dlq.reason"].decode() == bad.reason.value, bad.name
        assert letter.headers["driftline.dlq.original.topic"].decode() == settings.topic_predictions
        assert letter.headers["__connect.errors.offset"] == str(position[1]).encode()
        assert int(letter.headers["driftline.dlq.original.timestamp"]) > 1_700_000_000_000
        assert letter.headers["driftline.dlq.exception.message"], bad.name


def test_valid_events_keep_flowing_and_are_counted(published, worker):
    def processed():
        return worker.metric_total("driftline_events_processed_total", model=MODEL)

    wait_for(lambda: processed() >= GOOD_BEFORE + GOOD_AFTER, "the good events processed")
    assert processed() == GOOD_BEFORE + GOOD_AFTER


def test_rejections_are_counted_per_reason(published, dead_letters, worker):
    expected = Counter(bad.reason.value for bad in BAD_RECORDS)
    for reason, count in expected.items():
        assert worker.metric_total("driftline_events_rejected_total", reason=reason) == count
    assert worker.metric_total("driftline_batch_size_count") >= 1
    assert worker.metric_total("driftline_batch_processing_seconds_count") >= 1


def test_the_worker_is_healthy_after_the_bad_input(published, dead_letters, worker, settings):
    status, health = worker.health()
    assert status == 200
    assert health["kafka"]["ok"] and health["redis"]["ok"]
    assert health["stream"]["ok"] and health["stream"]["batches"] >= 1
    assert health["stream"]["partitions"] == list(range(settings.partitions))


def test_the_inferred_spec_is_stored_in_redis(published, worker, settings):
    client = redis.Redis.from_url(settings.redis_url)
    key = f"{settings.redis_prefix}:specs"
    stored = wait_for(lambda: client.hget(key, MODEL), "the inferred spec stored", 10)
    spec = orjson.loads(stored)
    assert spec["source"] == "inferred"
    assert spec["features"]["plan"]["type"] == "string"
    assert spec["features"]["age"]["type"] == "number"
    client.delete(key)


@pytest.mark.parametrize("codec", ["lz4", "snappy", "zstd", "gzip"])
def test_compressed_batches_are_read(published, worker, settings, codec):
    model = f"it-codec-{codec}"
    before = worker.metric_total("driftline_events_processed_total", model=model)
    publish(
        settings.kafka,
        settings.topic_predictions,
        [(model.encode(), value) for value in sample_events(model, 60)],
        compression=codec,
    )
    wait_for_metric(worker, "driftline_events_processed_total", 60, model=model)
    assert before == 0
    assert worker.health()[0] == 200
