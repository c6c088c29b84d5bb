"""Key naming for Redis Cluster: every key of one model, all versions, in one hash slot."""

from __future__ import annotations

import doctest

import pytest
from redis.crc import key_slot

import streams.adapters.redis.fences
import streams.adapters.redis.keys
import streams.redis_url
from streams.adapters.redis.duplicates import RedisDuplicates
from streams.adapters.redis.fences import unapplied_events
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.legacy_keys import LegacyKeys
from streams.adapters.redis.rollout_store import RedisRolloutStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core.contract.event import RawRecord
from streams.redis_url import cluster_url


class _Client:
    """Enough of a client to build the stores (no command is sent)."""

    def register_script(self, script: str) -> object:
        return script


def model_keys(model_id: str, version: str) -> list[str]:
    client = _Client()
    keys: list[str] = []
    for namespace in (None, "performance"):
        store = RedisMonitorStore(client, prefix="dl", topic="in", namespace=namespace)  # type: ignore[arg-type]
        state, profile, reference = store._keys(model_id, version)
        keys += [state, profile, reference, *store.fence_keys(model_id)]
        keys += [f"{state}:quarantined:1700000000"]
    base = RedisLabelJoin(client, prefix="dl")._base(model_id)  # type: ignore[arg-type]
    keys += [
        f"{base}:kept:1000",
        f"{base}:ids:1000",
        f"{base}:pred:e1",
        f"{base}:early",
        f"{base}:early-labels",
    ]
    duplicates = RedisDuplicates(client, prefix="dl", ttl_s=600)  # type: ignore[arg-type]
    keys += [duplicates._key(model_id, 2_000_000), duplicates._key(model_id, 1_999_999)]
    keys += [RedisRolloutStore(client, prefix="dl").key(model_id)]  # type: ignore[arg-type]
    return keys


@pytest.mark.parametrize("model_id", ["credit-risk", "m", "a:b", "fraud.v2-model"])
def test_every_key_of_a_model_all_versions_shares_one_slot(model_id: str) -> None:
    keys = model_keys(model_id, "v1") + model_keys(model_id, "v2") + model_keys(model_id, "x:y")
    assert {key_slot(k.encode()) for k in keys} == {key_slot(model_id.encode())}


def test_models_spread_over_slots() -> None:
    slots = {key_slot(model_keys(f"model-{i}", "v1")[0].encode()) for i in range(50)}
    assert len(slots) > 40, "the hash tag must be the model id, not the prefix"


def test_the_old_key_names_are_the_ones_of_before() -> None:
    assert LegacyKeys("dl").keys("m", "v1") == ("dl:state:m:v1", "dl:profile:m:v1",
                                               "dl:reference:m:v1")  # fmt: skip
    assert LegacyKeys("dl:performance").keys("m", "v1")[0] == "dl:performance:state:m:v1"


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("redis+cluster://10.0.0.1:7000", "redis://10.0.0.1:7000"),
        (
            "rediss+cluster://u:p@h:7000/0?ssl_ca_certs=/ca",
            "rediss://u:p@h:7000/0?ssl_ca_certs=/ca",
        ),
        ("REDIS+CLUSTER://h:1", "redis://h:1"),
        ("redis://h:6379/0", None),
        ("rediss://h:6380", None),
    ],
)
def test_a_cluster_is_named_by_its_scheme(url: str, plain: str | None) -> None:
    assert cluster_url(url) == plain


def test_a_models_fence_skips_only_its_own_applied_events() -> None:
    records = [RawRecord(b"", 0, "t", p, o) for p, o in [(0, 10), (0, 11), (1, 3), (1, 4)]]
    models = ["a", "b", "a", "b"]
    positions = [(r.partition, r.offset) for r in records]
    fences = {"a": ({0: 10, 1: 3}, {}), "b": ({0: 5}, {})}
    assert unapplied_events(models, positions, records, fences) == [1, 3]


def test_a_routed_copy_is_fenced_by_its_models_source_offsets() -> None:
    # Two copies of source record (src, 0, 7), re-forwarded at by-model offsets 20 and 21;
    # the decoder gives each event its source position.
    records = [RawRecord(b"", 0, "src", 0, 7, read_at=(2, o)) for o in (20, 21)]
    positions = [(0, 7), (0, 7)]
    assert unapplied_events(["a", "a"], positions, records, {}) == [0]
    fenced = {"a": ({}, {(2, "src", 0): 7})}
    assert unapplied_events(["a", "a"], positions, records, fenced) == []
    # Another model's source fence does not apply.
    assert unapplied_events(["b", "b"], positions, records, fenced) == [0]


def test_a_routed_record_is_fenced_by_where_it_was_read_not_its_source() -> None:
    records = [RawRecord(b"", 0, "src", 0, o, read_at=(2, 100 + o)) for o in (1, 2, 3)]
    positions = [(0, 1), (0, 3)]  # the record at source offset 2 was rejected
    fences = {"a": ({2: 101}, {}), "b": ({0: 50}, {})}
    assert unapplied_events(["a", "a"], positions, records, fences) == [1]
    # A fence on partition 0 of the by-model topic says nothing of source partition 0.
    assert unapplied_events(["b", "b"], positions, records, fences) == [0, 1]


@pytest.mark.parametrize(
    "module",
    [streams.redis_url, streams.adapters.redis.fences, streams.adapters.redis.keys],
)  # fmt: skip
def test_the_examples_hold(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
