"""UUIDv7 event ids and RFC 3339 timestamps: the parts of an event the caller gets wrong."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from streams.client.event_ids import UuidV7, uuid7_time_ms
from streams.client.timestamps import Rfc3339Clock, rfc3339
from streams.core.contract.field_rules import timestamp_field


def test_ids_are_version_7_with_the_rfc_variant_and_carry_their_time():
    ids = UuidV7(clock_ms=lambda: 1_795_420_800_250)
    parsed = uuid.UUID(ids())
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert uuid7_time_ms(str(parsed)) == 1_795_420_800_250


def test_ids_sort_in_creation_order_within_one_millisecond_and_across_a_clock_step_back():
    clock = iter([5, 5, 5, 4, 6])  # the wall clock stepped back once
    ids = UuidV7(clock_ms=lambda: next(clock))
    made = [ids() for _ in range(5)]
    assert made == sorted(made) and len(set(made)) == 5


def test_more_ids_in_a_millisecond_than_the_counter_holds_still_sort():
    ids = UuidV7(clock_ms=lambda: 1_000)
    made = [ids() for _ in range(5_000)]
    assert made == sorted(made) and len(set(made)) == 5_000


def test_threads_never_get_the_same_id():
    ids, made = UuidV7(), []

    def work():
        made.extend(ids() for _ in range(2_000))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8_000


def test_an_aware_time_is_written_in_utc_and_read_back_as_the_same_instant():
    moment = datetime(2026, 3, 29, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    text = rfc3339(moment)
    assert text == "2026-03-29T07:30:00.123456Z"
    assert timestamp_field(text) == int(moment.timestamp() * 1000)


def test_a_time_without_a_zone_is_refused_not_guessed():
    with pytest.raises(ValueError, match="no time zone"):
        rfc3339(datetime(2026, 3, 29, 2, 30))


def test_the_clock_formats_now_to_the_millisecond_across_second_boundaries():
    ticks = iter([1_795_420_800_999_999_999, 1_795_420_801_000_000_000, 1_795_420_801_007_000_000])
    clock = Rfc3339Clock(clock_ns=lambda: next(ticks))
    assert [clock(), clock(), clock()] == [
        "2026-11-23T08:00:00.999Z",
        "2026-11-23T08:00:01.000Z",
        "2026-11-23T08:00:01.007Z",
    ]


def test_the_clock_agrees_with_datetime_now():
    before = datetime.now(UTC)
    stamp = timestamp_field(Rfc3339Clock()())
    after = datetime.now(UTC)
    assert int(before.timestamp() * 1000) - 1 <= stamp <= int(after.timestamp() * 1000)
