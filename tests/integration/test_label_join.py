"""The label join against a real Redis: each prediction joined at most once, every other
label counted by why (duplicate, early then joined or unknown, expired, overflow)."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest
import redis.asyncio as aioredis

from streams.adapters.redis.label_join import RedisLabelJoin
from streams.core.contract.event import LabelEvent, PredictionEvent
from streams.core.labels.labelled import LabelledPrediction, kept_fields, label_fields

pytestmark = pytest.mark.integration

NOW_MS = int(time.time() * 1000)


def prediction(event_id: str, **overrides) -> PredictionEvent:
    fields = dict(event_id=event_id, model_id="churn", model_version="v3", timestamp_ms=NOW_MS,
                  features={"income": 52_000.5, "email": "a@b.c"}, prediction=True, score=0.8,
                  attributes={"region": "eu"})  # fmt: skip
    return PredictionEvent(**(fields | overrides))


def label(event_id: str, value=True) -> LabelEvent:
    return LabelEvent(event_id, "churn", value, NOW_MS + 60_000)


def labels_of(*labels: LabelEvent) -> tuple[list[LabelEvent], list[tuple[int, int]]]:
    return list(labels), [(0, offset) for offset in range(len(labels))]


def run(stack_config, scenario, **join_options):
    async def main():
        client = aioredis.Redis.from_url(stack_config.redis_url)
        try:
            join = RedisLabelJoin(client, prefix=f"test-join-{uuid.uuid4().hex[:8]}",
                                  **join_options)  # fmt: skip
            return await scenario(join, client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def outcomes(results) -> list[str]:
    return [result.outcome.value for result in results]


def test_a_label_joins_its_prediction_once_and_keeps_no_features(stack_config):
    async def scenario(join, client):
        await join.keep([prediction("e1"), prediction("e2")])
        buckets = [key async for key in client.scan_iter(f"{join.prefix}:*:kept:*")]
        stored = [value for key in buckets for value in await client.hvals(key)]
        first = await join.join([label("e1", False)], [(0, 7)], now_ms=NOW_MS)
        again = await join.join([label("e1", False)], [(1, 3)], now_ms=NOW_MS)
        await join.keep([prediction("e1")])  # a replayed prediction must not revive it
        replayed = await join.join([label("e1")], [(0, 9)], now_ms=NOW_MS)
        return stored, first, again, replayed

    stored, first, again, replayed = run(stack_config, scenario)
    assert len(stored) == 2
    assert all(b"income" not in value and b"a@b.c" not in value for value in stored)
    assert first[0].joined == LabelledPrediction(
        model_id="churn", model_version="v3", event_id="e1", prediction=True, label=False,
        score=0.8, attributes={"region": "eu"}, predicted_at_ms=NOW_MS,
        labelled_at_ms=NOW_MS + 60_000,
    )  # fmt: skip
    assert outcomes(again) == outcomes(replayed) == ["duplicate"]


def test_the_same_label_record_again_joins_again_so_a_replayed_batch_loses_nothing(
    stack_config,
):
    async def scenario(join, client):
        await join.keep([prediction("e1")])
        first = await join.join([label("e1")], [(2, 40)], now_ms=NOW_MS)
        # The worker died before saving the batch's state: Kafka redelivers the same record.
        replayed = await join.join([label("e1")], [(2, 40)], now_ms=NOW_MS)
        other = await join.join([label("e1")], [(2, 41)], now_ms=NOW_MS)
        return first, replayed, other

    first, replayed, other = run(stack_config, scenario)
    assert outcomes(first) == outcomes(replayed) == ["joined"]
    assert first[0].joined == replayed[0].joined
    assert outcomes(other) == ["duplicate"]


def test_labels_join_in_any_order(stack_config):
    async def scenario(join, client):
        await join.keep([prediction(f"e{i}") for i in range(5)])
        order = [3, 0, 4, 1, 2]
        return await join.join([label(f"e{i}") for i in order], [(0, i) for i in order],
                               now_ms=NOW_MS)  # fmt: skip

    results = run(stack_config, scenario)
    assert outcomes(results) == ["joined"] * 5
    assert [r.joined.event_id for r in results] == ["e3", "e0", "e4", "e1", "e2"]


def test_a_label_that_comes_first_waits_for_its_prediction(stack_config):
    async def scenario(join, client):
        early = await join.join(*labels_of(label("e1"), label("e1"), label("e2")), now_ms=NOW_MS)
        await join.keep([prediction("e1")])
        retried, waiting = await join.retry_early("churn", now_ms=NOW_MS + 1_000)
        later, _ = await join.retry_early("churn", now_ms=NOW_MS + 2_000)
        given_up, left = await join.retry_early("churn", now_ms=NOW_MS + 11_000)
        return early, retried, later, given_up, (waiting, left)

    early, retried, later, given_up, counts = run(stack_config, scenario, wait_s=10)
    assert counts == (1, 0)
    assert outcomes(early) == ["early", "duplicate", "early"]
    assert outcomes(retried) == ["joined"]
    assert retried[0].joined is not None and retried[0].joined.label is True
    assert later == []  # e2 still within its wait
    assert outcomes(given_up) == ["unknown"]
    assert given_up[0].label.event_id == "e2"
    assert (retried[0].position, given_up[0].position) == ((0, 0), (0, 2))


def test_a_label_within_the_ttl_joins_and_one_after_it_is_expired_not_unknown(stack_config):
    async def scenario(join, client):
        await join.keep([prediction("on-time"), prediction("late")])
        await asyncio.sleep(0.6)
        on_time = await join.join(*labels_of(label("on-time")), now_ms=NOW_MS)
        # Kept for the TTL (2 s) and at most its bucket (a quarter, rounded up to 1 s) more;
        # its id 3 s longer still, so a slow machine has seconds to spare either way.
        await asyncio.sleep(2.6)
        late = await join.join(*labels_of(label("late"), label("never-kept")), now_ms=NOW_MS)
        return on_time, late

    on_time, late = run(stack_config, scenario, ttl_s=2)
    assert outcomes(on_time) == ["joined"]
    assert outcomes(late) == ["expired", "early"]


def test_a_replayed_prediction_in_a_later_bucket_does_not_revive_a_joined_one(stack_config):
    # The worker's clock picks the bucket: moved on by one bucket here, not slept through, so
    # the TTL can be an hour and nothing expires while the test runs on a slow machine.
    now_s = [time.time()]

    async def scenario(join, client):
        await join.keep([prediction("e1")])
        first = await join.join([label("e1")], [(0, 1)], now_ms=NOW_MS)
        now_s[0] += join.bucket_s
        await join.keep([prediction("e1"), prediction("e2")])
        other = await join.join([label("e1"), label("e2")], [(0, 2), (0, 3)], now_ms=NOW_MS)
        return first, other, [key async for key in client.scan_iter(f"{join.prefix}:*:kept:*")]

    first, other, buckets = run(stack_config, scenario, ttl_s=3600, clock=lambda: now_s[0])
    assert len(buckets) == 2
    assert outcomes(first) == ["joined"]
    assert outcomes(other) == ["duplicate", "joined"]


def test_a_prediction_kept_before_the_buckets_still_joins_once(stack_config):
    async def scenario(join, client):
        legacy = f"{join._base('churn')}:pred:old"
        kept = orjson.dumps(kept_fields(prediction("old"), frozenset(), None))
        await client.set(legacy, kept, px=60_000)
        first = await join.join([label("old")], [(0, 4)], now_ms=NOW_MS)
        other = await join.join([label("old")], [(0, 5)], now_ms=NOW_MS)
        return first, other, await client.pttl(legacy)

    first, other, ttl_ms = run(stack_config, scenario)
    assert outcomes(first) == ["joined"] and outcomes(other) == ["duplicate"]
    assert first[0].joined is not None and first[0].joined.event_id == "old"
    assert 0 < ttl_ms <= 60_000  # joined in place, its expiry kept


def test_waiting_labels_are_bounded_per_model(stack_config):
    async def scenario(join, client):
        return await join.join(*labels_of(label("a"), label("b"), label("c")), now_ms=NOW_MS)

    assert outcomes(run(stack_config, scenario, max_early=2)) == ["early", "early", "overflow"]


def test_a_kept_prediction_or_waiting_label_that_cannot_be_read_is_counted_not_a_crash(
    stack_config,
):
    """Garbage where the join keeps a prediction (written by something else) made every
    batch of the labels agent raise, and Faust restarted it into the same batch for ever."""

    async def scenario(join, client):
        await join.keep([prediction("e1"), prediction("e2")])
        [bucket] = [key async for key in client.scan_iter(f"{join.prefix}:*:kept:*")]
        await client.hset(bucket, "e1", b"garbage")
        joined = await join.join([label("e1"), label("e2")], [(0, 0), (0, 1)], now_ms=NOW_MS)
        early = await join.join([label("e3"), label("e4")], [(0, 2), (0, 3)], now_ms=NOW_MS)
        [waiting] = [key async for key in client.scan_iter(f"{join.prefix}:*:early-labels")]
        await client.hset(waiting, "e3", b"[1, 2]")
        # An id that is not text, with fields that are: read as far as the id.
        await client.zadd(waiting.replace(b":early-labels", b":early"), {b"\xff": 0})
        await client.hset(waiting, b"\xff", orjson.dumps(label_fields(label("e5"), (0, 4))))
        await join.keep([prediction("e3"), prediction("e4")])
        retried, _ = await join.retry_early("churn", now_ms=NOW_MS)
        return joined, early, retried

    joined, early, retried = run(stack_config, scenario)
    assert outcomes(joined) == ["unreadable", "joined"]
    assert outcomes(early) == ["early", "early"]
    assert [(r.outcome.value, r.label.event_id) for r in retried] == [("joined", "e4")]
