"""The routing stage's partition counts: read again now and then, a change said loudly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.adapters.kafka import partition_count
from streams.adapters.kafka.partition_count import CachedCount


def counts(*answers: int | None) -> CachedCount:
    replies = iter(answers)

    async def read() -> int | None:
        return next(replies)

    return CachedCount(read, "by-model")


def read_all(cached: CachedCount, times: int) -> list[int | None]:
    async def run() -> list[int | None]:
        return [await cached.get() for _ in range(times)]

    return asyncio.run(run())


def test_the_count_is_trusted_for_a_while():
    assert read_all(counts(3, 4), 3) == [3, 3, 3]


def test_an_added_partition_is_used_and_logged_as_an_error(monkeypatch, caplog):
    monkeypatch.setattr(partition_count, "_PARTITIONS_TTL_S", -1.0)  # read at every call
    with caplog.at_level(logging.ERROR, logger=partition_count.__name__):
        assert read_all(counts(3, 3, 4, 4), 4) == [3, 3, 4, 4]
    assert [r.getMessage() for r in caplog.records] == [
        partition_count.PARTITIONS_ADDED % ("by-model", 3, 4)
    ]
    assert "group stopped at zero lag" in caplog.records[0].getMessage()


@pytest.mark.parametrize("answers", [(None, 3), (3, None)])
def test_an_unanswered_read_keeps_what_was_known(monkeypatch, caplog, answers):
    monkeypatch.setattr(partition_count, "_PARTITIONS_TTL_S", -1.0)
    with caplog.at_level(logging.ERROR, logger=partition_count.__name__):
        got = read_all(counts(*answers), 2)
    assert got == ([None, 3] if answers[0] is None else [3, 3])
    assert not caplog.records
