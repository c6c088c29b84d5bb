"""The pure parts of routing by model: the key read from a record, the source coordinates
carried in headers, and the fence that skips re-forwarded copies."""

from __future__ import annotations

import random
import zlib

import orjson
import pytest

from streams.adapters.kafka.roads import COPY, Roads, direct_read_at, direct_road, split_direct
from streams.adapters.kafka.routing import NO_MODEL, model_key, routed_record, source_headers
from streams.adapters.redis.fences import last_offsets, unapplied
from streams.core.contract.event import RawRecord

ALL_DIRECT = {p: Roads((0,), (direct_road(4),)) for p in range(4)}


def test_the_key_is_the_model_id_or_the_empty_key():
    assert model_key(b'{"model_id": "m1", "x": 1}') == b"m1"
    for value in (None, b"", b"not json", b"[1]", b'{"model_id": 3}', b'{"model_id": ""}'):
        assert model_key(value) == NO_MODEL
    assert model_key(b'{"model_id": "m1"}', max_bytes=5) == NO_MODEL


def test_the_key_is_the_top_level_id_wherever_else_the_name_appears():
    event = {"model_id": "m.1_x-2", "features": {"f": 1.0}, "attributes": {"a": "b"}}
    look_alikes = [
        {"features": {"model_id": 1.0}},  # a feature named so
        {"attributes": {"note": "model_id"}},  # the name as a value
        {"attributes": {"note": '"model_id": "other"'}},  # quoted inside a string
        {"event_id": "model_id"},
    ]
    for extra in [{}, *look_alikes]:
        for options in (0, orjson.OPT_INDENT_2, orjson.OPT_SORT_KEYS):
            value = orjson.dumps({**event, **extra}, option=options)
            assert model_key(value) == b"m.1_x-2", value
    for model_id in ("with space", "ünï", "x" * 65, 'q"uote'):  # not plain: parsed
        assert model_key(orjson.dumps({"model_id": model_id})) == model_id.encode()
    assert model_key(b'{"model_id" :\t"m1" , "model_id": "m2"}') == b"m2"  # as parsed: the last
    assert model_key(b'{"model\\u005fid": "m1"}') == b"m1"


def test_the_key_of_any_valid_event_is_its_parsed_model_id():
    rng = random.Random(7)
    alphabet = 'abcAZ09._- "\\:{}'
    for _ in range(2000):
        model_id = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 70)))
        event = {"model_id": model_id, "features": {rng.choice(alphabet): rng.choice(alphabet)}}
        value = orjson.dumps(event)
        assert model_key(value) == model_id.encode(), value


def test_a_routed_record_keeps_its_source_place_and_key():
    source = RawRecord(b"v", 123, "predictions", 2, 41, b"request-9")
    copy = routed_record("by-model", 0, 7, 999, b"v", b"m1", source_headers(source))
    assert copy == RawRecord(b"v", 123, "predictions", 2, 41, b"request-9", (0, 7))
    assert copy.position == (0, 7)


def test_headers_are_not_trusted_when_incomplete():
    copy = routed_record("by-model", 1, 5, 999, b"v", b"m1", [("driftline.source.topic", b"x")])
    assert copy == RawRecord(b"v", 999, "by-model", 1, 5, b"m1")


def _copy(source_partition: int, source_offset: int, offset: int) -> RawRecord:
    return RawRecord(b"v", 0, "predictions", source_partition, source_offset, None, (0, offset))


def test_re_forwarded_copies_are_skipped_by_source_offset():
    first = [_copy(0, 10, 0), _copy(1, 4, 1), _copy(0, 11, 2)]
    again = [_copy(0, 10, 3), _copy(1, 4, 4), _copy(0, 11, 5), _copy(0, 12, 6)]
    offsets, sources = last_offsets(first)
    assert offsets == {0: 2}
    assert sources == {(0, "predictions", 0): 11, (0, "predictions", 1): 4}
    assert unapplied(again, offsets, sources) == [_copy(0, 12, 6)]


def _last_offsets_record_by_record(records):
    offsets, sources = {}, {}
    for record in records:
        partition, offset = record.position
        offsets[partition] = max(offsets.get(partition, -1), offset)
        if record.read_at is not None:
            key = (partition, record.source, record.partition)
            sources[key] = max(sources.get(key, -1), record.offset)
    return offsets, sources


@pytest.mark.parametrize("seed", range(30))
def test_last_offsets_are_each_partitions_and_sources_highest_in_any_order(seed):
    rng = random.Random(seed)
    records, read = [], {0: 0, 1: 0}
    for _ in range(rng.randrange(1, 12)):  # bundles and direct runs, copies out of order
        if rng.random() < 0.3:
            partition = rng.randrange(3)
            start = rng.randrange(50)
            records += [RawRecord(b"v", 0, "predictions", partition, o)
                        for o in range(start, start + rng.randrange(1, 5))]  # fmt: skip
            continue
        at = rng.randrange(2)
        read[at] += rng.randrange(0, 3)  # 0: a second piece of one bundle
        records += [
            RawRecord(b"v", 0, rng.choice(["predictions", "labels"]), rng.randrange(3),
                      rng.randrange(100), None, (at, read[at]))
            for _ in range(rng.randrange(1, 6))
        ]  # fmt: skip
    assert last_offsets(records) == _last_offsets_record_by_record(records)


def test_copies_within_one_batch_are_skipped_and_offsets_still_fence():
    batch = [_copy(0, 10, 0), _copy(0, 11, 1), _copy(0, 10, 2), _copy(0, 11, 3)]
    assert unapplied(batch, {}, {}) == batch[:2]
    # Saved together: the first two skipped by offset, the rest as copies.
    assert unapplied(batch, {0: 1}, {(0, "predictions", 0): 11}) == []
    direct = [RawRecord(b"v", 0, "predictions", 0, o) for o in range(3)]
    assert unapplied(direct, {0: 0}, {(0, "predictions", 0): 5}) == direct[1:]


def test_records_on_their_models_partition_are_split_off_to_apply_where_they_are_read():
    # crc32 % 4: b"a" -> 3, b"b" -> 1, b"" (no model id) -> 0.
    assert [zlib.crc32(k) % 4 for k in (b"a", b"b", b"")] == [3, 1, 0]
    places = [(3, b"a"), (1, b"a"), (1, b"b"), (0, None), (3, b"x"), (3, b"a")]
    records = [RawRecord(b"v%d" % i, 7, "predictions", p, 10 + i, key)
               for i, (p, key) in enumerate(places)]  # fmt: skip
    keys = [b"a", b"a", b"b", b"", b"b", b"a"]
    [run] = split_direct(records, keys, 4, ALL_DIRECT)
    assert run.forwarded == [records[1], records[4]] and run.keys == [b"a", b"b"]
    assert run.copied_home == set()  # neither forwarded record is on its model's partition
    direct = run.direct
    # Those of one partition are read at its last one in the chunk, as a bundle's are.
    assert [(r.value, r.read_at) for r in direct] == [
        (b"v0", direct_read_at(3, 15)),
        (b"v2", direct_read_at(1, 12)),
        (b"v3", direct_read_at(0, 13)),
        (b"v5", direct_read_at(3, 15)),
    ]
    # The source coordinates (what dead letters and alerts name) are the record's own.
    assert [(r.source, r.partition, r.offset, r.key, r.timestamp_ms) for r in direct] == [
        ("predictions", p, o, k, 7)
        for p, o, k in [(3, 10, b"a"), (1, 12, b"b"), (0, 13, None), (3, 15, b"a")]
    ]


def test_a_record_goes_direct_only_where_its_partitions_roads_say_so():
    # Partition 3: copied up to 11, direct from 12 with 4 partitions, copied from 14, then
    # direct with 8 partitions (not this count) from 15. Model b"a" maps to 3 of 4.
    roads = {3: Roads((12, 14, 15), (direct_road(4), COPY, direct_road(8)))}
    records = [RawRecord(b"v%d" % o, 0, "predictions", 3, o, b"a") for o in range(10, 17)]
    runs = split_direct(records, [b"a"] * len(records), 4, roads)
    assert [[r.offset for r in run.direct] for run in runs] == [[12, 13], []]
    # Cut where the copies start again: they go after the direct records before them.
    assert [[r.offset for r in run.forwarded] for run in runs] == [[10, 11], [14, 15, 16]]
    assert [run.copied_home for run in runs] == [{3}, {3}]
    assert {r.read_at for r in runs[0].direct} == {direct_read_at(3, 13)}


def test_roads_are_read_back_as_stored():
    roads = Roads.parse("120 d8,5000 c")
    assert [roads.road_at(o) for o in (0, 119, 120, 4999, 5000, 10**9)] == [
        COPY, COPY, "d8", "d8", COPY, COPY
    ]  # fmt: skip
    assert roads.last == COPY and Roads.parse("7 d4").last == "d4"
    assert Roads.parse("") == Roads() and Roads().last == COPY and Roads().road_at(5) == COPY


def test_direct_records_and_copies_of_one_input_partition_are_fenced_apart():
    # Input partition 2 read directly, and copies from it read at by-model partition 2.
    direct = [RawRecord(b"v", 0, "predictions", 2, o, None, direct_read_at(2, 6)) for o in (5, 6)]
    copies = [RawRecord(b"v", 0, "predictions", 2, o, None, (2, at)) for o, at in ((3, 0), (4, 1))]
    offsets, sources = last_offsets(direct + copies)
    assert offsets == {-3: 6, 2: 1}
    assert sources == {(-3, "predictions", 2): 6, (2, "predictions", 2): 4}
    # Neither road's fence covers the other's records: a copy of a lower source offset that
    # arrives after the direct records is still applied.
    late = RawRecord(b"v", 0, "predictions", 2, 4, None, (2, 2))
    assert unapplied([late, *direct], {-3: 6}, {(-3, "predictions", 2): 6}) == [late]
    # Read again after a crash, in a chunk cut elsewhere: the applied ones are skipped by
    # their source offsets, the new one is not.
    again = [RawRecord(b"v", 0, "predictions", 2, o, None, direct_read_at(2, 7)) for o in (6, 7)]
    assert unapplied(again, offsets, sources) == again[1:]
    assert unapplied(direct, offsets, sources) == []
    assert direct_read_at(0, 9) == (-1, 9)


@pytest.mark.parametrize(
    ("stored", "starts"),
    [
        ("garbage", ()),
        ("[1,2]", ()),
        (b"\xff\xfe", ()),
        ("120 d8,garbage,5000 c", (120, 5000)),
        ("120 d8,100 c,5000 c", (120, 5000)),  # a start before the one before
        ("120 d8,5000", (120,)),
        ("-5 d8,7 d4", (7,)),
    ],
)
def test_segments_of_another_form_are_left_out_not_raised(stored, starts):
    assert Roads.parse(stored).starts == starts


def test_a_claim_at_the_start_of_the_last_segment_replaces_it():
    # Workers switching modes claim at the high-water mark; one that takes its first chunk
    # before any new record came claims where the one before it did: the later wins, as the
    # claims were made (CI of ce8128d: read as the earlier, the direct switch_routing failed).
    roads = Roads.parse("3500 d3,3500 c,3500 d3,5834 c")
    assert (roads.starts, roads.roads) == ((3500, 5834), ("d3", "c"))
    assert Roads.parse("0 c,3500 d3,3500 c").road_at(3500) == "c"
