"""The decoder's fast path against its long way, on valid, broken and garbage records.

``EventDecoder.decode`` takes a fast path for plainly valid events and the long way (one
rule after another) for the rest; both must give the same verdict for every record: the
same event, or the same reason, field and text. The timestamps' per-second cache likewise
against the plain conversion.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from streams.core.contract.decoder import EventDecoder
from streams.core.contract.event import RawRecord
from streams.core.contract.timestamps import SecondCache, timestamp_ms
from streams.core.errors import InvalidEvent, Reason
from tests.core.conftest import event_dict, record

_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 1e300, 2**62, "", "x", "x" * 129, "x" * 300,
    "v 1", "m" * 65, "../etc", [], [1], {}, {"a": 1}, {"a": {"b": 1}}, "\x00", "é",
    -5, 0.5, 2.0,
]  # fmt: skip
_STAMPS = [
    "2026-11-23T08:00:00Z", "2026-11-23T08:00:00.250Z", "2026-11-23t08:00:00.5z",
    "2026-11-23T10:00:00.123456+02:00", "2026-11-23T08:00:00.123456789Z",
    "2026-11-23T08:00:00.9999999Z", "2026-11-23T08:00:00.999999Z", "1969-12-31T23:59:59.5Z",
    "2026-02-30T08:00:00Z", "2026-11-23T08:00:60Z", "2026-11-23T24:00:00Z",
    "2026-11-23T08:00:00", "2026-11-23 08:00:00Z", "٢٠٢٦-11-23T08:00:00Z",
    "2026-11-23T08:00:00.Z", "2026-11-23T08:00:00+25:00", "2026-11-23T08:00:00-00:00",
    "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
    # The cache's millisecond form with something else where its digits go:
    "2026-11-23T08:00:00.1a3Z", "2026-11-23T08:00:00.\u0661\u0662\u0663Z",
    "2026-11-23T08:00:00.\u00b2\u00b3\u00b9Z", "2026-11-23T08:00:00.+12Z",
    "2026-11-23T08:00:00 123Z", "2026-11-23T08:00:00.123z",
]  # fmt: skip
_KEYS = ["event_id", "model_id", "model_version", "timestamp", "features", "prediction",
         "score", "latency_ms", "attributes", "trace_id", "predicton", "extra"]  # fmt: skip


def verdict(decode: Any, raw: RawRecord) -> tuple[Any, ...]:
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        return ("rejected", exc.reason, exc.field, exc.detail)
    return ("accepted", event, tuple(map(type, event.features.values())))


def mutated_event(rng: random.Random) -> dict[str, Any]:
    event = event_dict(latency_ms=3.5, trace_id="t-1", attributes={"region": "eu"})
    for _ in range(rng.randrange(4)):
        key = rng.choice(_KEYS)
        roll = rng.random()
        if roll < 0.2:
            event.pop(key, None)
        elif roll < 0.45 and key == "timestamp":
            event[key] = rng.choice(_STAMPS)
        elif roll < 0.6 and type(event.get("features")) is dict:
            event["features"] = {**event["features"], rng.choice("abc"): rng.choice(_ODD_VALUES)}
        elif roll < 0.7:
            event["attributes"] = {rng.choice(["g", "\x01"]): rng.choice(_ODD_VALUES)}
        else:
            event[key] = rng.choice(_ODD_VALUES)
    return event


def garbage(rng: random.Random) -> bytes | None:
    valid = orjson.dumps(mutated_event(rng))
    choice = rng.randrange(10)  # 5 and over: a valid record, mutated or not
    if choice == 0:
        return None if rng.random() < 0.5 else b""
    if choice == 1:  # a cut record
        return valid[: rng.randrange(len(valid))]
    if choice == 2:  # a byte changed
        at = rng.randrange(len(valid))
        return valid[:at] + bytes([rng.randrange(256)]) + valid[at + 1 :]
    if choice == 3:
        return rng.choice([b"[1]", b"null", b'"s"', b'{"x": NaN}', b'{"x": 1e999}', b"\xff{}"])
    if choice == 4:  # a padded record near the size limits
        return valid[:-1] + b',"pad":"' + b"x" * rng.randrange(900, 1100) + b'"}'
    return valid


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_and_long_way_give_the_same_verdict(seed):
    rng = random.Random(seed)
    for limits in ({}, {"max_features": 5}, {"max_message_bytes": 400}):
        fast = EventDecoder(**limits)
        slow = EventDecoder(**limits)._decode_checking_each_rule
        for offset in range(1500):
            raw = record(garbage(rng), offset)
            assert verdict(fast.decode, raw) == verdict(slow, raw), raw.value


def test_both_ways_accept_and_reject_some_records():
    # The comparison above means something only if both verdicts occur often.
    rng = random.Random(0)
    decoder = EventDecoder()
    verdicts = [verdict(decoder.decode, record(garbage(rng)))[0] for _ in range(1000)]
    assert 250 < verdicts.count("accepted") < 750


def test_second_cache_gives_the_plain_conversion_or_its_error():
    cache = SecondCache(max_seconds=3)
    rng = random.Random(1)
    stamps = _STAMPS + [
        f"2026-11-23T08:00:{rng.randrange(60):02d}.{rng.randrange(10**6):0{rng.randrange(1, 7)}d}Z"
        for _ in range(300)
    ]
    # Milliseconds within two seconds: the cache's quick form, over and over.
    stamps += [
        f"2026-11-23T08:00:0{rng.randrange(2)}.{rng.randrange(1000):03d}Z" for _ in range(100)
    ]
    for stamp in stamps * 2:
        expected = _outcome(timestamp_ms, stamp)
        assert _outcome(cache, stamp) == expected, stamp


def _outcome(convert: Any, stamp: str) -> Any:
    try:
        return convert(stamp)
    except InvalidEvent as exc:
        return (exc.reason, exc.field, exc.detail)


def test_second_cache_size_must_be_positive():
    with pytest.raises(ValueError, match="max_seconds"):
        SecondCache(max_seconds=0)


_ATTRIBUTE_NAMES = ["g", "region", "\x01", "x" * 128, "x" * 129, ""]
_ATTRIBUTE_VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, -0.0, "", "eu", "x" * 256, "x" * 257, [], [1], {"a": 1},
]  # fmt: skip


def attributes_by_the_rules(attributes: dict[str, Any]) -> tuple[Any, ...]:
    """The schema's rules for ``attributes``, written plainly: names first, then values."""
    for name in attributes:
        if not 1 <= len(name) <= 128 or any(ord(c) < 0x20 for c in name):
            return ("rejected", Reason.INVALID_VALUE, f"attributes.{name[:128]!r}")
    for name, value in attributes.items():
        if type(value) is str and len(value) > 256:
            return ("rejected", Reason.INVALID_VALUE, f"attributes.{name}")
        if type(value) not in (str, int, float, bool, type(None)):
            return ("rejected", Reason.WRONG_TYPE, f"attributes.{name}")
    return ("accepted", attributes)


def test_attributes_remembered_or_not_get_the_rules_verdict():
    # The fast path remembers attribute sets found valid; a set equal to one remembered
    # (1, 1.0 and True compare equal) must get its own verdict, first time or hundredth.
    rng = random.Random(3)
    decoder = EventDecoder()
    for offset in range(3000):
        attributes = {
            rng.choice(_ATTRIBUTE_NAMES): rng.choice(_ATTRIBUTE_VALUES)
            for _ in range(rng.randrange(1, 4))
        }
        raw = record(event_dict(attributes=attributes), offset)
        got = verdict(decoder.decode, raw)
        expected = attributes_by_the_rules(attributes)
        if expected[0] == "accepted":
            assert got[0] == "accepted", attributes
            assert got[1].attributes == attributes
            assert list(map(type, got[1].attributes.values())) == list(
                map(type, attributes.values())
            )
        else:
            assert got[:3] == expected, attributes


def test_the_shape_handed_to_the_spec_check_is_the_events_own():
    # ModelSpec.check trusts the decoder's shape instead of taking it again: it must be the
    # decoded event's feature names and value types, in order, whenever one is given.
    rng = random.Random(5)
    decoder = EventDecoder()
    given = 0
    for offset in range(2000):
        try:
            event, shape = decoder.decode_with_shape(record(garbage(rng), offset))
        except InvalidEvent:
            continue
        if shape is not None:
            given += 1
            features = event.features
            assert shape == (tuple(features), tuple(map(type, features.values())))
    assert given > 250
