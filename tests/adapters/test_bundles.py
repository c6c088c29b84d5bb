"""The routing stage's bundles: framing read back exactly, and each partition's share of a
chunk in its order."""

from __future__ import annotations

import random
import zlib

from streams.adapters.kafka.bundles import bundle_value, framed_size, is_bundle, unbundled
from streams.adapters.kafka.routing import (
    model_key,
    partition_messages,
    pieces,
    routed_records,
    source_headers,
)
from streams.core.contract.event import RawRecord


def _records(rng: random.Random, count: int, models: int = 7) -> list[RawRecord]:
    records = []
    for offset in range(count):
        model = rng.randrange(models)
        value = rng.choice([
            None, b"", b"not json", b'{"model_id": "m%d", "x": %d}' % (model, offset),
            b'{"model_id": "m%d", "pad": "%s"}' % (model, b"y" * rng.randrange(0, 900)),
        ])  # fmt: skip
        key = rng.choice([None, b"", b"request-%d" % offset])
        records.append(RawRecord(value, 1_700_000_000_000 + offset, "predictions",
                                 rng.randrange(3), offset, key))  # fmt: skip
    return records


def test_a_bundle_reads_back_as_its_records_at_the_bundles_place():
    rng = random.Random(1)
    for _ in range(50):
        records = _records(rng, rng.randint(1, 40))
        read = unbundled(bundle_value(records), "predictions", (2, 77))
        expected = [RawRecord(r.value, r.timestamp_ms, r.source, r.partition, r.offset, r.key,
                              (2, 77)) for r in records]  # fmt: skip
        assert read == expected
        assert len(bundle_value(records)) == sum(map(framed_size, records))


def test_a_cut_or_foreign_value_is_not_taken_for_a_bundle():
    records = _records(random.Random(2), 10)
    value = bundle_value(records)
    ends, at = set(), 0
    for record in records:
        at += framed_size(record)
        ends.add(at)
    for cut in range(1, len(value)):
        if cut not in ends:
            assert unbundled(value[:cut], "p", (0, 0)) is None, cut
    assert unbundled(b'{"model_id": "m1"}', "p", (0, 0)) is None
    # Read as the record it is, at its own place, when the marker lies.
    garbage = routed_records("by-model", 1, 9, 5, b"\xff" * 30, b"k", [("driftline.bundle", b"1")])
    assert garbage == [RawRecord(b"\xff" * 30, 5, "by-model", 1, 9, b"k")]


def test_each_partition_gets_its_models_records_in_order_in_bounded_bundles():
    rng = random.Random(3)
    records = _records(rng, 3000, models=23)
    records.insert(1500, RawRecord(b'{"model_id": "m4", "big": "%s"}' % (b"z" * 5000),
                                   0, "predictions", 1, 99_999))  # fmt: skip
    keys = [model_key(r.value) for r in records]
    planned = partition_messages(records, keys, 5, 4096)
    got: dict[int, list[RawRecord]] = {}
    for partition, messages in planned.items():
        for offset, (key, value, headers) in enumerate(messages):
            assert len(value or b"") <= 4096 or not is_bundle(headers)
            if not is_bundle(headers):
                assert headers == source_headers(records[1500]) and value == records[1500].value
                assert key == b"m4"
            held = routed_records("by-model", partition, offset, 0, value, key, headers)
            got.setdefault(partition, []).extend(held)
    for partition, held in got.items():
        positions = [(r.partition, r.offset) for r in held]
        for key in {model_key(r.value) for r in held}:
            assert zlib.crc32(key) % 5 == partition
        expected = [r for r, k in zip(records, keys, strict=True) if zlib.crc32(k) % 5 == partition]
        assert positions == [(r.partition, r.offset) for r in expected]
        assert [r.value for r in held] == [r.value for r in expected]
    assert sum(map(len, got.values())) == len(records)


class _Consumed:
    """What ``pieces`` reads of aiokafka's consumer record."""

    def __init__(self, offset: int, value: bytes | None, headers: list | None = None) -> None:
        self.offset, self.timestamp, self.value, self.key = offset, 7, value, None
        self.headers = headers or []


def test_pieces_hold_at_most_the_cap_and_never_split_a_bundle():
    rng = random.Random(4)
    consumed, expected = [], []
    for offset in range(200):
        records = _records(rng, rng.choice([1, 3, 40, 400, 600]))
        framed = partition_messages(records, [b"m"] * len(records), 1, 1 << 20)[0]
        assert len(framed) == 1
        _, value, headers = framed[0]
        consumed.append(_Consumed(100 + offset, value, headers))
        expected.append(routed_records("bm", 0, 100 + offset, 7, value, None, headers))
    cut = list(pieces("bm", 0, consumed, True, 500))
    assert [r for _, raw in cut for r in raw] == [r for held in expected for r in held]
    assert [o for offsets, _ in cut for o in offsets] == list(range(100, 300))
    sizes = {o: len(held) for o, held in zip(range(100, 300), expected, strict=True)}
    for offsets, raw in cut:
        assert len(raw) == sum(sizes[o] for o in offsets)
        assert len(raw) <= 500 or len(offsets) == 1
    plain = [_Consumed(o, b"%d" % o) for o in range(1234)]
    cut = list(pieces("input", 3, plain, False, 500))
    assert [len(raw) for _, raw in cut] == [500, 500, 234]
    assert [r.offset for _, raw in cut for r in raw] == [o for offsets, _ in cut for o in offsets]
